// The Linux stand-ins for macOS's primitives (darwin_common.h), for the
// build that runs macOS's code paths on Linux (binding.gyp's
// memmap_darwin_paths; `npm run test:darwin-paths`). Each keeps the macOS
// semantics darwin_common.cc must cope with, with a Linux call:
//  * the wait: futex, but a word that differed on entry is a plain return,
//    as with ulock, and wakes go one at a time;
//  * POSIX shared memory (in /dev/shm here) can be sized once;
//  * F_PREALLOCATE reserves blocks past the end without changing the size
//    (fallocate with FALLOC_FL_KEEP_SIZE);
//  * F_RDADVISE and F_RDAHEAD: posix_fadvise; after msync(MS_INVALIDATE),
//    which drops cached pages on macOS and not on Linux, posix_fadvise drops them;
//  * Apple Silicon: no writable and executable memory;
//  * the guard: protection faults reach the SIGBUS path (macOS raises
//    SIGBUS for them), so SIGSEGV is routed into it too.
// What cannot be played here: 16 KiB pages, the page-rounded size of shared
// memory, XNU's fault codes on sent signals (the Linux rule stands).
#include "glibc_compat.h"  // first: pins the glibc versions of what follows
#include "darwin_common.h"
#include "linux_calls.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

namespace memmap {
namespace os {
namespace darwin {

int WaitWord(void* addr, uint32_t value, int64_t timeout_ns) {
  struct timespec ts = sys::Timespec(timeout_ns < 0 ? 0 : timeout_ns);
  long r = syscall(SYS_futex, addr, FUTEX_WAIT, value, timeout_ns < 0 ? nullptr : &ts, nullptr, 0);
  if (r == 0 || errno == EAGAIN) return 0;  // ulock: "differed" is not told apart
  return errno;
}

int WakeOne(void* addr) {
  long r = syscall(SYS_futex, addr, FUTEX_WAKE, 1, nullptr, nullptr, 0);
  if (r < 0) return errno;
  return r == 0 ? ENOENT : 0;
}

int WakeAll(void* addr) {
  long r = syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  if (r < 0) return errno;
  return r == 0 ? ENOENT : 0;
}

const char* WaitCall() { return "futex"; }

const char* WakeCall() { return "futex"; }

const char* SystemName() { return "darwin-paths"; }

int Fstat(int fd, struct stat* st) { return linux_calls::Fstat(fd, st); }

int Ftruncate(int fd, int64_t size) {
  // macOS sizes a shared memory object once: a second ftruncate is EINVAL.
  static dev_t shm_dev = [] {
    struct stat st;
    return stat("/dev/shm", &st) == 0 ? st.st_dev : static_cast<dev_t>(-1);
  }();
  struct stat st;
  if (Fstat(fd, &st) == 0 && st.st_dev == shm_dev && S_ISREG(st.st_mode) && st.st_size != 0) {
    errno = EINVAL;
    return -1;
  }
  return ftruncate(fd, static_cast<off_t>(size));
}

SysErr BlockDeviceSize(int fd, int64_t* size) { return linux_calls::BlockDeviceSize(fd, size); }

SysErr Preallocate(int fd, int64_t old_size, int64_t new_size) {
  for (;;) {
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(old_size), static_cast<off_t>(new_size - old_size)) == 0) {
      return Ok();
    }
    if (errno != EINTR) return Fail(errno, "fcntl");
  }
}

SysErr FullFsync(int fd) {
  if (fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP) return Ok();
  return Fail(errno, "fsync");
}

SysErr ReadAdvise(int fd, int64_t offset, int64_t length) {
  int r = posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(length), POSIX_FADV_WILLNEED);
  return r == 0 ? Ok() : Fail(r, "fcntl");
}

SysErr ReadAhead(int fd, bool on) {
  int r = posix_fadvise(fd, 0, 0, on ? POSIX_FADV_NORMAL : POSIX_FADV_RANDOM);
  return r == 0 ? Ok() : Fail(r, "fcntl");
}

SysErr AfterInvalidate(int fd, int64_t offset, int64_t length) {
  int r = posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(length), POSIX_FADV_DONTNEED);
  return r == 0 ? Ok() : Fail(r, "posix_fadvise");
}

bool WritableExecAllowed(const char** why) {
  *why = "Apple Silicon does not map memory that is both writable and executable (the macOS-paths build plays it)";
  return false;
}

int FaultSignals(int* signals, int max) {
  if (max < 2) return 0;
  signals[0] = SIGBUS;
  signals[1] = SIGSEGV;  // what macOS raises as SIGBUS
  return 2;
}

bool RaisedByAccess(int, int si_code) { return si_code > 0 && si_code < SI_KERNEL; }

}  // namespace darwin
}  // namespace os
}  // namespace memmap
