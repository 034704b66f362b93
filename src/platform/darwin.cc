// macOS's primitives (darwin_common.h): the calls only macOS has. Built for
// macOS only (darwin-x64 and darwin-arm64 prebuilds, cross-built with zig:
// scripts/prebuild-darwin.mjs; or node-gyp with Xcode). Its Linux stand-in,
// with the same semantics, is darwin_paths.cc.
//
// Nothing newer than macOS 11 (the prebuilds' minos) is bound at load time:
// the wait calls are looked up with dlsym, os_sync_wait_on_address (14.4+,
// public) first, then __ulock_wait2 / __ulock_wake (private, but what libc++
// and every runtime on macOS use), so the addon loads on 11 and uses the
// public calls where they exist.
#include "darwin_common.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/disk.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <mutex>

namespace memmap {
namespace os {
namespace darwin {

namespace {

// <os/os_sync_wait_on_address.h> (macOS 14.4)
constexpr uint32_t kOsSyncShared = 0x1;       // OS_SYNC_WAIT_ON_ADDRESS_SHARED, OS_SYNC_WAKE_BY_ADDRESS_SHARED
constexpr uint32_t kOsClockMachAbsolute = 32;  // OS_CLOCK_MACH_ABSOLUTE_TIME
using OsSyncWait = int (*)(void* addr, uint64_t value, size_t size, uint32_t flags);
using OsSyncWaitTimeout = int (*)(void* addr, uint64_t value, size_t size, uint32_t flags, uint32_t clock,
                                  uint64_t timeout_ns);
using OsSyncWake = int (*)(void* addr, size_t size, uint32_t flags);
constexpr uint32_t kUlfWakeAll = 0x100;  // ULF_WAKE_ALL
// XNU's bsd/sys/ulock.h
constexpr uint32_t kUlCompareAndWaitShared = 3;  // UL_COMPARE_AND_WAIT_SHARED
using UlockWait2 = int (*)(uint32_t op, void* addr, uint64_t value, uint64_t timeout_ns, uint64_t value2);
using UlockWake = int (*)(uint32_t op, void* addr, uint64_t wake_value);

struct Calls {
  OsSyncWait wait = nullptr;
  OsSyncWaitTimeout wait_timeout = nullptr;
  OsSyncWake wake_any = nullptr;
  OsSyncWake wake_all = nullptr;
  UlockWait2 ulock_wait2 = nullptr;
  UlockWake ulock_wake = nullptr;
};

const Calls& Find() {
  static Calls calls;
  static std::once_flag once;
  std::call_once(once, [] {
    calls.wait = reinterpret_cast<OsSyncWait>(dlsym(RTLD_DEFAULT, "os_sync_wait_on_address"));
    calls.wait_timeout = reinterpret_cast<OsSyncWaitTimeout>(dlsym(RTLD_DEFAULT, "os_sync_wait_on_address_with_timeout"));
    calls.wake_any = reinterpret_cast<OsSyncWake>(dlsym(RTLD_DEFAULT, "os_sync_wake_by_address_any"));
    calls.wake_all = reinterpret_cast<OsSyncWake>(dlsym(RTLD_DEFAULT, "os_sync_wake_by_address_all"));
    if (!calls.wait || !calls.wait_timeout || !calls.wake_any || !calls.wake_all) calls.wait = nullptr;
    calls.ulock_wait2 = reinterpret_cast<UlockWait2>(dlsym(RTLD_DEFAULT, "__ulock_wait2"));
    calls.ulock_wake = reinterpret_cast<UlockWake>(dlsym(RTLD_DEFAULT, "__ulock_wake"));
    if (!calls.ulock_wait2 || !calls.ulock_wake) calls.ulock_wait2 = nullptr;
  });
  return calls;
}

}  // namespace

int WaitWord(void* addr, uint32_t value, int64_t timeout_ns) {
  const Calls& c = Find();
  int r;
  if (c.wait) {
    r = timeout_ns < 0 ? c.wait(addr, value, 4, kOsSyncShared)
                       : c.wait_timeout(addr, value, 4, kOsSyncShared, kOsClockMachAbsolute,
                                        static_cast<uint64_t>(timeout_ns));
  } else if (c.ulock_wait2) {
    // A timeout of 0 means none (darwin_common.cc never asks for a wait of 0 ns).
    r = c.ulock_wait2(kUlCompareAndWaitShared, addr, value, timeout_ns < 0 ? 0 : static_cast<uint64_t>(timeout_ns), 0);
  } else {
    return ENOSYS;
  }
  return r >= 0 ? 0 : errno;
}

namespace {
int Wake(void* addr, bool all) {
  const Calls& c = Find();
  int r;
  if (c.wait) {
    r = (all ? c.wake_all : c.wake_any)(addr, 4, kOsSyncShared);
  } else if (c.ulock_wait2) {
    r = c.ulock_wake(kUlCompareAndWaitShared | (all ? kUlfWakeAll : 0), addr, 0);
  } else {
    return ENOSYS;
  }
  return r >= 0 ? 0 : errno;  // ENOENT: no one waited
}
}  // namespace

int WakeOne(void* addr) { return Wake(addr, false); }

int WakeAll(void* addr) { return Wake(addr, true); }

const char* WaitCall() { return Find().wait ? "os_sync_wait_on_address" : "__ulock_wait2"; }

const char* WakeCall() { return Find().wait ? "os_sync_wake_by_address_any" : "__ulock_wake"; }

const char* SystemName() { return "darwin"; }

int Fstat(int fd, struct stat* st) { return fstat(fd, st); }

int Ftruncate(int fd, int64_t size) { return ftruncate(fd, static_cast<off_t>(size)); }

SysErr BlockDeviceSize(int fd, int64_t* size) {
  uint64_t blocks = 0;
  uint32_t block_size = 0;
  if (ioctl(fd, DKIOCGETBLOCKCOUNT, &blocks) != 0 || ioctl(fd, DKIOCGETBLOCKSIZE, &block_size) != 0) {
    return Fail(errno, "ioctl");
  }
  *size = static_cast<int64_t>(blocks * block_size);
  return Ok();
}

SysErr Preallocate(int fd, int64_t old_size, int64_t new_size) {
  // From the physical end of the file, contiguous if it can be, else not.
  for (;;) {
    fstore_t store = {F_ALLOCATECONTIG | F_ALLOCATEALL, F_PEOFPOSMODE, 0, static_cast<off_t>(new_size - old_size), 0};
    if (fcntl(fd, F_PREALLOCATE, &store) == 0) return Ok();
    store.fst_flags = F_ALLOCATEALL;
    if (fcntl(fd, F_PREALLOCATE, &store) == 0) return Ok();
    if (errno != EINTR) return Fail(errno, "fcntl");
  }
}

SysErr FullFsync(int fd) {
  if (fcntl(fd, F_FULLFSYNC) == 0) return Ok();
  // Some file systems (network ones, FAT) have no F_FULLFSYNC: what fsync gives.
  if (fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP) return Ok();
  return Fail(errno, "fsync");
}

SysErr ReadAdvise(int fd, int64_t offset, int64_t length) {
  struct radvisory ra;
  ra.ra_offset = static_cast<off_t>(offset);
  ra.ra_count = static_cast<int>(length);
  if (fcntl(fd, F_RDADVISE, &ra) != 0) return Fail(errno, "fcntl");
  return Ok();
}

SysErr ReadAhead(int fd, bool on) {
  if (fcntl(fd, F_RDAHEAD, on ? 1 : 0) != 0) return Fail(errno, "fcntl");
  return Ok();
}

SysErr AfterInvalidate(int, int64_t, int64_t) { return Ok(); }  // MS_INVALIDATE dropped them

bool WritableExecAllowed(const char** why) {
#if defined(__aarch64__) || defined(__arm64__)
  *why = "Apple Silicon does not map memory that is both writable and executable (only MAP_JIT memory, which a "
         "thread must unlock before it writes, which JavaScript cannot do): map without `exec`";
  return false;
#else
  (void)why;
  return true;
#endif
}

int FaultSignals(int* signals, int max) {
  if (max < 1) return 0;
  signals[0] = SIGBUS;  // protection faults too, on macOS: see FaultsNeedConfirming
  return 1;
}

// BUS_ADRALN..BUS_OBJERR and SEGV_MAPERR/SEGV_ACCERR are small; SI_USER is
// 0x10001, SI_QUEUE 0x10002... (<sys/signal.h>).
bool RaisedByAccess(int, int si_code) { return si_code > 0 && si_code < SI_USER; }

}  // namespace darwin
}  // namespace os
}  // namespace memmap
