// macOS's side of the platform contract (what the posix*.cc files leave to
// each system), over the primitives of darwin_common.h. Built for macOS with
// darwin.cc, and on Linux with darwin_paths.cc (memmap_darwin_paths), where
// the whole test suite runs over it.
//
// What macOS does not have, and what is done instead:
//  * no mremap: CanRemap() is false, so MappedRange::Resize maps afresh and
//    copies (as on Windows);
//  * no futex: waits go through os_sync_wait_on_address (macOS 14.4+) or
//    __ulock_wait2 (darwin.cc). Neither says "the value differed", so the
//    word is loaded first; neither wakes a counted number of waiters, so
//    they are woken one at a time and counted. No wait on several words:
//    waiter threads sleep in slices (src/core/waiter.cc);
//  * no /proc/self/pagemap: a resize of a private mapping compares every
//    page to find the process's own;
//  * no memfd: anonymous shared memory is a POSIX object unlinked at once,
//    which macOS sizes once: it cannot be resized (ENOTSUP, said plainly);
//  * no MAP_POPULATE, no MADV_POPULATE_READ: read-ahead, then a byte a page;
//  * no posix_fadvise: willneed is F_RDADVISE, dontneed msync(MS_INVALIDATE)
//    over a mapping of the range (what vmtouch -e does on macOS),
//    sequential/normal/random turn read-ahead on or off (F_RDAHEAD), and
//    noreuse has no equivalent (accepted, does nothing);
//  * no limit on mappings to read: the mapping budget is off (src/core/budget.h);
//  * fsync leaves writes in the drive's cache: a synchronous flush ends with
//    F_FULLFSYNC, as Node's own fs.fsync does there.
#include "darwin_common.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

namespace memmap {
namespace os {

namespace sys {

int Fstat(int fd, struct stat* st) { return darwin::Fstat(fd, st); }

SysErr BlockDeviceSize(int fd, int64_t* size) { return darwin::BlockDeviceSize(fd, size); }

SysErr Preallocate(int fd, int64_t old_size, int64_t new_size) {
  // F_PREALLOCATE leaves the size as it is: ftruncate extends the file into
  // what it reserved.
  SysErr e = darwin::Preallocate(fd, old_size, new_size);
  if (!e) return Resize(fd, new_size);
  return e.err == ENOSPC || e.err == EDQUOT ? e : Fail(ENOTSUP, e.syscall);
}

SysErr Resize(int fd, int64_t size) {
  for (;;) {
    if (darwin::Ftruncate(fd, size) == 0) return Ok();
    if (errno == EINTR) continue;
    SysErr e = Fail(errno, "ftruncate");
    struct stat st;
    if (e.err == EINVAL && size >= 0 && darwin::Fstat(fd, &st) == 0 && st.st_size != 0) {
      e.hint = "POSIX shared memory on macOS can be sized only once, when it is created";
    }
    return e;
  }
}

int PopulateFlag() { return 0; }
int SharedFlags() { return MAP_SHARED; }
bool WritableExecAllowed(const char** why) { return darwin::WritableExecAllowed(why); }
SysErr DurableSync(int fd) { return darwin::FullFsync(fd); }
size_t SharedMemoryNameMax() { return 31; }  // PSHMNAMLEN, the slash included

}  // namespace sys

const char* SystemName() { return darwin::SystemName(); }

bool CanRemap() { return false; }

SysErr Remap(void*, size_t, size_t, void**) { return Fail(ENOTSUP, "mremap"); }

SysErr RemapInPlace(void*, size_t, size_t) { return Fail(ENOTSUP, "mremap"); }

void CopyPrivatePages(const void* from, void* to, size_t length, bool to_zeroed) {
  const size_t page = PageSize();
  sys::CopyDifferingPages(static_cast<const uint8_t*>(from), static_cast<uint8_t*>(to), 0,
                          (length + page - 1) / page, to_zeroed);
}

SysErr Populate(void* addr, size_t length) {
  sys::PopulateByTouch(addr, length);
  return Ok();
}

SysErr SharedMemoryCreate(size_t length, int* fd) { return sys::AnonymousSharedMemory(length, fd); }

bool SharedMemoryResizable() { return false; }

SysErr WaitOnAddress(void* addr, int32_t expected, int64_t timeout_ns, int* outcome) {
  // The primitive cannot say "the value differed": look first. (Only where
  // the word cannot go meanwhile: see WaitOnAddressUnread.)
  if (__atomic_load_n(static_cast<int32_t*>(addr), __ATOMIC_SEQ_CST) != expected) {
    *outcome = 1;
    return Ok();
  }
  return WaitOnAddressUnread(addr, expected, timeout_ns, outcome);
}

SysErr WaitOnAddressUnread(void* addr, int32_t expected, int64_t timeout_ns, int* outcome) {
  if (timeout_ns == 0) {  // ulock takes a timeout of 0 as none
    *outcome = 2;
    return Ok();
  }
  int r = darwin::WaitWord(addr, static_cast<uint32_t>(expected), timeout_ns);
  if (r == 0 || r == EINTR) {
    *outcome = 0;  // woken, or the word changed meanwhile: callers look again, as with Atomics.wait
    return Ok();
  }
  if (r == ETIMEDOUT) {
    *outcome = 2;
    return Ok();
  }
  return Fail(r, darwin::WaitCall());
}

SysErr WakeAddress(void* addr, int32_t count, int* woken) {
  // One at a time, to count them: the primitive wakes one or all, and says
  // only whether there was one. At most kOneByOne so: a waiter that waits
  // again at once on an unchanged word could be woken for ever. Past that,
  // everyone left is woken at once, and counted as none.
  constexpr int kOneByOne = 1024;
  int n = 0;
  while (n < count) {
    if (n == kOneByOne) {
      int r = darwin::WakeAll(addr);
      if (r != 0 && r != ENOENT) return Fail(r, darwin::WakeCall());
      break;
    }
    int r = darwin::WakeOne(addr);
    if (r == ENOENT) break;
    if (r != 0) {
      if (n > 0) break;
      return Fail(r, darwin::WakeCall());
    }
    n++;
  }
  *woken = n;
  return Ok();
}

SysErr WaitOnAny(const WaitTarget*, size_t, int64_t, int*) { return Fail(ENOSYS, darwin::WaitCall()); }

namespace {

enum FileAdviceKind { kNormal, kSequential, kRandom, kWillNeed, kDontNeed, kNoReuse };

const NamedValue kFileAdvice[] = {
    {"normal", kNormal},     {"sequential", kSequential}, {"random", kRandom},
    {"willneed", kWillNeed}, {"dontneed", kDontNeed},     {"noreuse", kNoReuse},
};

// [offset, offset + length) of the file, clamped to its size; length 0: to
// its end (posix_fadvise's rule).
bool Span(int fd, int64_t offset, int64_t length, int64_t* end, SysErr* e) {
  struct stat st;
  if (darwin::Fstat(fd, &st) != 0) {
    *e = Fail(errno, "fstat");
    return false;
  }
  int64_t size = static_cast<int64_t>(st.st_size);
  *end = length == 0 ? size : std::min(size, offset + length);
  return true;
}

// Drops the cached pages of the range: msync(MS_INVALIDATE) over a shared
// read-only mapping of it, a piece at a time (an address space bounded
// however large the file).
SysErr Invalidate(int fd, int64_t offset, int64_t length) {
  SysErr e;
  int64_t end = 0;
  if (!Span(fd, offset, length, &end, &e)) return e;
  const int64_t page = static_cast<int64_t>(PageSize());
  const int64_t piece = int64_t{64} << 20;
  for (int64_t at = offset & ~(page - 1); at < end; at += piece) {
    size_t n = static_cast<size_t>(std::min(piece, end - at));
    void* p = mmap(nullptr, n, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(at));
    if (p == MAP_FAILED) return Fail(errno, "mmap");
    int r = msync(p, n, MS_INVALIDATE);
    int err = errno;
    munmap(p, n);
    if (r != 0) return Fail(err, "msync");
  }
  return darwin::AfterInvalidate(fd, offset, end > offset ? end - offset : 0);
}

SysErr WillNeed(int fd, int64_t offset, int64_t length) {
  SysErr e;
  int64_t end = 0;
  if (!Span(fd, offset, length, &end, &e)) return e;
  // F_RDADVISE takes an int count: pieces of 1 GiB.
  for (int64_t at = offset; at < end; at += int64_t{1} << 30) {
    if ((e = darwin::ReadAdvise(fd, at, std::min<int64_t>(int64_t{1} << 30, end - at)))) return e;
  }
  return Ok();
}

}  // namespace

SysErr FileAdvise(int fd, int64_t offset, int64_t length, int advice) {
  if (offset < 0 || length < 0) return Fail(EINVAL, "fcntl");
  switch (advice) {
    case kNormal:
    case kSequential: return darwin::ReadAhead(fd, true);
    case kRandom: return darwin::ReadAhead(fd, false);
    case kWillNeed: return WillNeed(fd, offset, length);
    case kDontNeed: return Invalidate(fd, offset, length);
    case kNoReuse: return Ok();  // no equivalent; posix_fadvise takes it as a hint too
    default: return Fail(EINVAL, "fcntl");
  }
}

bool FileAdviceByName(const std::string& name, int* advice) { return LookupName(kFileAdvice, name, advice); }

std::vector<std::string> FileAdviceNames() { return NamesOf(kFileAdvice); }

size_t MaxMapCount() { return 0; }  // no limit to read: the budget is off

int64_t CountMappings() { return -1; }

int FaultSignals(int* signals, int max) { return darwin::FaultSignals(signals, max); }

bool RaisedByAccess(int sig, int si_code) { return darwin::RaisedByAccess(sig, si_code); }

bool FaultsNeedConfirming() { return true; }

}  // namespace os
}  // namespace memmap
