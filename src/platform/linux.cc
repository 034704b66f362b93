// What only Linux has: futex and futex_waitv, mremap, fallocate, memfd,
// /proc/self/pagemap, MAP_POPULATE and MADV_POPULATE_READ, posix_fadvise,
// the limit on mappings in /proc, BLKGETSIZE64. The rest of the contract is
// the posix*.cc files'; posix.h is the seam.
#include "glibc_compat.h"  // first: pins the glibc versions of what follows
#include "linux_calls.h"
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>

namespace memmap {
namespace os {

namespace sys {

int Fstat(int fd, struct stat* st) { return linux_calls::Fstat(fd, st); }

SysErr BlockDeviceSize(int fd, int64_t* size) { return linux_calls::BlockDeviceSize(fd, size); }

SysErr Preallocate(int fd, int64_t old_size, int64_t new_size) {
  // fallocate(2) both reserves the blocks and extends the file. The errors
  // the Go linker tolerates (the file system cannot preallocate) leave it to
  // a plain ftruncate.
  for (;;) {
    if (fallocate(fd, 0, static_cast<off_t>(old_size), static_cast<off_t>(new_size - old_size)) == 0) return Ok();
    if (errno == EINTR) continue;
    if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EPERM || errno == EINVAL) return Fail(ENOTSUP, "fallocate");
    return Fail(errno, "fallocate");
  }
}

SysErr Resize(int fd, int64_t size) {
  for (;;) {
    if (ftruncate(fd, static_cast<off_t>(size)) == 0) return Ok();
    if (errno != EINTR) return Fail(errno, "ftruncate");
  }
}

int PopulateFlag() { return MAP_POPULATE; }
int SharedFlags() { return MAP_SHARED | MAP_SHARED_VALIDATE; }
bool WritableExecAllowed(const char**) { return true; }
SysErr DurableSync(int) { return Ok(); }  // msync(MS_SYNC) waited for the device
size_t SharedMemoryNameMax() { return NAME_MAX; }

}  // namespace sys

const char* SystemName() { return "linux"; }

bool CanRemap() { return true; }

SysErr Remap(void* addr, size_t old_length, size_t new_length, void** out) {
  void* p = mremap(addr, old_length, new_length, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) return Fail(errno, "mremap");
  *out = p;
  return Ok();
}

SysErr RemapInPlace(void* addr, size_t old_length, size_t new_length) {
  if (mremap(addr, old_length, new_length, 0) == MAP_FAILED) return Fail(errno, "mremap");
  return Ok();
}

// Which pages are the process's own comes from /proc/self/pagemap: one
// 64-bit entry a page, bit 63 present, 62 swapped, 61 "file page or shared
// anonymous". A present or swapped page that is not a file page is
// anonymous: written (copy on write), or the zero page of a read. The flags
// are readable without privilege (only the frame numbers are hidden).
// Where pagemap cannot be read, every page is compared instead: correct,
// but it reads the whole range.
void CopyPrivatePages(const void* from_v, void* to_v, size_t length, bool to_zeroed) {
  const uint8_t* from = static_cast<const uint8_t*>(from_v);
  uint8_t* to = static_cast<uint8_t*>(to_v);
  const size_t page = PageSize();
  const size_t pages = (length + page - 1) / page;  // mappings hold whole pages
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  uint64_t entries[512];
  size_t i = 0;
  while (i < pages) {
    size_t n = std::min(pages - i, sizeof entries / sizeof entries[0]);
    off_t at = static_cast<off_t>((reinterpret_cast<uintptr_t>(from) / page + i) * sizeof(uint64_t));
    ssize_t got = fd >= 0 ? pread(fd, entries, n * sizeof(uint64_t), at) : -1;
    if (got < static_cast<ssize_t>(sizeof(uint64_t))) {
      sys::CopyDifferingPages(from, to, i, pages - i, to_zeroed);
      break;
    }
    n = static_cast<size_t>(got) / sizeof(uint64_t);
    for (size_t k = 0; k < n; k++, i++) {
      uint64_t e = entries[k];
      bool own = ((e >> 63) & 1 || (e >> 62) & 1) && !((e >> 61) & 1);
      if (own) sys::CopyDifferingPages(from, to, i, 1, to_zeroed);
    }
  }
  if (fd >= 0) close(fd);
}

SysErr Populate(void* addr, size_t length) {
#ifdef MADV_POPULATE_READ
  // Linux 5.14+: faults the pages in and reports EFAULT where an access would
  // have raised SIGBUS (a truncated file), instead of dying.
  if (madvise(addr, length, MADV_POPULATE_READ) == 0) return Ok();
  // EFAULT: part of the range is past the end of its file. Touching the
  // pages (below) lets the fault guard replace those with zeros and count
  // them, as any other read of them would, so `faulted` tells the truth.
  if (errno != EINVAL && errno != EFAULT) return Fail(errno, "madvise");
#endif
  sys::PopulateByTouch(addr, length);  // older kernels
  return Ok();
}

SysErr SharedMemoryCreate(size_t length, int* fd) {
  int f = memfd_create("memmap", MFD_CLOEXEC);
  if (f < 0) return errno == ENOSYS ? sys::AnonymousSharedMemory(length, fd) : Fail(errno, "memfd_create");
  SysErr e = Truncate(f, static_cast<int64_t>(length));
  if (e) {
    close(f);
    return e;
  }
  *fd = f;
  return Ok();
}

bool SharedMemoryResizable() { return true; }

SysErr WaitOnAddress(void* addr, int32_t expected, int64_t timeout_ns, int* outcome) {
  struct timespec ts = sys::Timespec(timeout_ns < 0 ? 0 : timeout_ns);
  // Not FUTEX_PRIVATE_FLAG: the word may be shared with other processes.
  long r = syscall(SYS_futex, addr, FUTEX_WAIT, expected, timeout_ns < 0 ? nullptr : &ts, nullptr, 0);
  if (r == 0) {
    *outcome = 0;
    return Ok();
  }
  if (errno == EAGAIN) {
    *outcome = 1;
    return Ok();
  }
  if (errno == ETIMEDOUT) {
    *outcome = 2;
    return Ok();
  }
  if (errno == EINTR) {
    *outcome = 0;  // a spurious wake: callers re-check the value, as with Atomics.wait
    return Ok();
  }
  return Fail(errno, "futex");
}

// futex(2) compares the word in the kernel: nothing here reads it.
SysErr WaitOnAddressUnread(void* addr, int32_t expected, int64_t timeout_ns, int* outcome) {
  return WaitOnAddress(addr, expected, timeout_ns, outcome);
}

SysErr WakeAddress(void* addr, int32_t count, int* woken) {
  long r = syscall(SYS_futex, addr, FUTEX_WAKE, count, nullptr, nullptr, 0);
  if (r < 0) return Fail(errno, "futex");
  *woken = static_cast<int>(r);
  return Ok();
}

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449  // the same number on every architecture
#endif
namespace {
// <linux/futex.h> has these from 5.16 on; spelled out for older headers.
struct FutexWaitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};
constexpr uint32_t kFutex2Size32 = 0x02;  // FUTEX2_SIZE_U32; not FUTEX2_PRIVATE: words may be shared
}  // namespace

SysErr WaitOnAny(const WaitTarget* targets, size_t n, int64_t deadline_ns, int* woken) {
  if (n == 0 || n > kMaxWaitTargets) return Fail(EINVAL, "futex_waitv");
  FutexWaitv waiters[kMaxWaitTargets];
  for (size_t i = 0; i < n; i++) {
    waiters[i].val = static_cast<uint32_t>(targets[i].expected);
    waiters[i].uaddr = reinterpret_cast<uintptr_t>(targets[i].addr);
    waiters[i].flags = kFutex2Size32;
    waiters[i].reserved = 0;
  }
  struct timespec ts = sys::Timespec(deadline_ns < 0 ? 0 : deadline_ns);
  long r = syscall(SYS_futex_waitv, waiters, static_cast<unsigned>(n), 0u, deadline_ns < 0 ? nullptr : &ts,
                   CLOCK_MONOTONIC);
  if (r < 0) return Fail(errno, "futex_waitv");
  *woken = static_cast<int>(r);
  return Ok();
}

static const NamedValue kFileAdvice[] = {
    {"normal", POSIX_FADV_NORMAL},     {"sequential", POSIX_FADV_SEQUENTIAL},
    {"random", POSIX_FADV_RANDOM},     {"willneed", POSIX_FADV_WILLNEED},
    {"dontneed", POSIX_FADV_DONTNEED}, {"noreuse", POSIX_FADV_NOREUSE},
};

SysErr FileAdvise(int fd, int64_t offset, int64_t length, int advice) {
  int r = posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(length), advice);
  if (r != 0) return Fail(r, "posix_fadvise");
  return Ok();
}

bool FileAdviceByName(const std::string& name, int* advice) { return LookupName(kFileAdvice, name, advice); }

std::vector<std::string> FileAdviceNames() { return NamesOf(kFileAdvice); }

size_t MaxMapCount() {
  FILE* f = fopen("/proc/sys/vm/max_map_count", "re");
  if (!f) return 0;
  unsigned long n = 0;
  if (fscanf(f, "%lu", &n) != 1) n = 0;
  fclose(f);
  return static_cast<size_t>(n);
}

int64_t CountMappings() {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  // A line a mapping. Read in pieces into the stack: no allocation.
  char buf[16384];
  int64_t lines = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      lines = -1;
      break;
    }
    if (n == 0) break;
    for (const char* p = buf; (p = static_cast<const char*>(memchr(p, '\n', buf + n - p))) != nullptr; p++) lines++;
  }
  close(fd);
  return lines;
}

int FaultSignals(int* signals, int max) {
  if (max < 1) return 0;
  signals[0] = SIGBUS;  // protection faults are SIGSEGV here, never the guard's
  return 1;
}

// si_code > 0: raised by the kernel (SI_USER is 0, SI_QUEUE and SI_TKILL
// negative); SI_KERNEL (0x80) is the kernel's too, but for no access.
bool RaisedByAccess(int, int si_code) { return si_code > 0 && si_code < SI_KERNEL; }

bool FaultsNeedConfirming() { return false; }

}  // namespace os
}  // namespace memmap
