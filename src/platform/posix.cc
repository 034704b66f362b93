// The platform contract (platform.h) as every POSIX system has it. What a
// system does its own way is asked of its file through posix.h (linux.cc,
// darwin_common.cc); this file tests no platform macro.
#include "glibc_compat.h"  // first: pins the glibc versions of what follows
#include "posix.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <climits>
#include <ctime>
#include <cstdio>
#include <cstring>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

namespace memmap {
namespace os {

size_t PageSize() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

int ErrnoForJs(int err) { return err; }

bool LockCopiesPrivatePages() { return true; }

bool NodeKnowsFd(int fd) { return fd >= 0; }

// On POSIX an offset only needs page alignment (Windows uses 64 KiB).
size_t AllocationGranularity() { return PageSize(); }

SysErr OpenFile(const std::string& path, bool write, bool create, int mode,
                int* fd, bool* created) {
  *created = false;
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
  // writer, freezing the event loop before the file's type is even checked.
  // O_NOCTTY: a terminal never becomes the process's controlling terminal.
  // The flag is cleared again below, once the file is open.
  int flags = (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  auto opened = [&](int f) {
    int fl = fcntl(f, F_GETFL);
    if (fl >= 0) fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    *fd = f;
    return Ok();
  };
  for (;;) {
    if (create) {
      // O_EXCL first, so that we know whether the file is ours to remove
      // again if a later step fails.
      int f = open(path.c_str(), flags | O_CREAT | O_EXCL, mode);
      if (f >= 0) {
        *created = true;
        return opened(f);
      }
      if (errno == EINTR) continue;
      if (errno != EEXIST) return Fail(errno, "open");
    }
    int f = open(path.c_str(), flags);
    if (f >= 0) return opened(f);
    if (errno == EINTR) continue;
    // The file vanished between the two opens: try creating it again.
    if (create && errno == ENOENT) continue;
    return Fail(errno, "open");
  }
}

SysErr DupFd(int fd, int* out) {
  int f = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (f < 0) return Fail(errno, "dup");
  *out = f;
  return Ok();
}

SysErr Stat(int fd, FileInfo* info) {
  struct stat st;
  if (sys::Fstat(fd, &st) != 0) return Fail(errno, "fstat");
  info->size = static_cast<int64_t>(st.st_size);
  info->regular = S_ISREG(st.st_mode);
  info->block = S_ISBLK(st.st_mode);
  info->character = S_ISCHR(st.st_mode);
  info->directory = S_ISDIR(st.st_mode);
  info->fifo = S_ISFIFO(st.st_mode);
  info->dev = static_cast<uint64_t>(st.st_dev);
  info->ino = static_cast<uint64_t>(st.st_ino);
  if (info->block) {
    // st_size is 0 for block devices, so the size is asked of the device,
    // never with lseek(fd, 0, SEEK_END): fd is the caller's descriptor (raw
    // mmap) or a dup() of it (map(fd)), and the two "share file offset and
    // file status flags" (dup(2)), so a seek would leave the caller's next
    // read() at the end.
    if (SysErr e = sys::BlockDeviceSize(fd, &info->size)) return e;
  }
  return Ok();
}

SysErr Truncate(int fd, int64_t size) { return sys::Resize(fd, size); }

SysErr Reserve(int fd, int64_t old_size, int64_t new_size) {
  if (new_size <= old_size) return Ok();
  // The file system reserves the blocks where it can (the Go linker's
  // fallocate, macOS's F_PREALLOCATE); where it cannot, the file still gets
  // its size, only unreserved.
  SysErr e = sys::Preallocate(fd, old_size, new_size);
  return e.err == ENOTSUP ? Truncate(fd, new_size) : e;
}

void Close(int fd) {
  if (fd >= 0) close(fd);  // not retried on EINTR: the fd is gone either way
}

void Unlink(const std::string& path) { unlink(path.c_str()); }

static int ExecBit(const MapOptions& opts) {
  return opts.exec ? PROT_EXEC : 0;
}

// Every mapping of the safe API is writable from JavaScript (a read-only
// one is private and writable: a write stays in the process), so `exec`
// asks for writable and executable memory, which not every system gives.
static SysErr CheckExec(const MapOptions& opts) {
  const char* why = nullptr;
  if (!opts.exec || sys::WritableExecAllowed(&why)) return Ok();
  SysErr e = Fail(ENOTSUP, "mmap");
  e.hint = why;
  return e;
}

static void AdviseHuge(void* addr, size_t length, const MapOptions& opts) {
#ifdef MADV_HUGEPAGE
  // Transparent huge pages are a hint: a kernel or file system without them
  // says EINVAL, and the mapping works as it is.
  if (opts.huge_pages) madvise(addr, length, MADV_HUGEPAGE);
#else
  (void)addr;
  (void)length;
  (void)opts;
#endif
}

SysErr MapFile(Access access, int fd, int64_t offset, size_t length,
               const MapOptions& opts, void** out) {
  if (SysErr e = CheckExec(opts)) return e;
  const int populate = opts.populate ? sys::PopulateFlag() : 0;
  void* p = MAP_FAILED;
  if (access == Access::kWrite) {
    p = mmap(nullptr, length, PROT_READ | PROT_WRITE | ExecBit(opts),
             MAP_SHARED | populate, fd,
             static_cast<off_t>(offset));
    if (p == MAP_FAILED) return Fail(errno, "mmap");
  } else {
    // "read" and "copy" are both private writable mappings: a JavaScript
    // write lands in a private copy of the page and never in the file, and
    // never faults. "read" adds MAP_NORESERVE: no swap is accounted for
    // pages that are only meant to be read.
    //
    // Populating (Linux's MAP_POPULATE) a private *writable* mapping makes the kernel
    // copy every page (copy-on-write is broken up front: a 256 MiB read
    // mapping became 256 MiB of anonymous memory). So the pages are
    // populated while the mapping is still PROT_READ, and the protection is
    // raised afterwards, which leaves them shared with the page cache.
    int flags = MAP_PRIVATE | (access == Access::kRead ? MAP_NORESERVE : 0);
    int prot = PROT_READ | ExecBit(opts);
    p = mmap(nullptr, length, opts.populate ? prot : prot | PROT_WRITE,
             flags | populate, fd,
             static_cast<off_t>(offset));
    if (p == MAP_FAILED) return Fail(errno, "mmap");
    if (opts.populate && mprotect(p, length, prot | PROT_WRITE) != 0) {
      int e = errno;
      munmap(p, length);
      return Fail(e, "mprotect");
    }
  }
  AdviseHuge(p, length, opts);
  *out = p;
  return Ok();
}

SysErr MapAnonymous(Access access, size_t length, const MapOptions& opts,
                    void** out) {
  if (SysErr e = CheckExec(opts)) return e;
  int flags = MAP_ANONYMOUS |
              (access == Access::kAnonShared ? MAP_SHARED : MAP_PRIVATE) |
              (opts.populate ? sys::PopulateFlag() : 0);
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE | ExecBit(opts),
                 flags, -1, 0);
  if (p == MAP_FAILED) return Fail(errno, "mmap");
  AdviseHuge(p, length, opts);
  *out = p;
  return Ok();
}

SysErr MapShadow(int fd, int64_t offset, size_t length, void** out) {
  void* p = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd,
                 static_cast<off_t>(offset));
  if (p == MAP_FAILED) return Fail(errno, "mmap");
  *out = p;
  return Ok();
}

SysErr MapRaw(int fd, int64_t offset, size_t length, int prot, int flags,
              void** out) {
  // A mapping without PROT_WRITE would kill the process on the first
  // JavaScript write. It is made as a private writable mapping instead: the
  // write stays in a private copy of the page, exactly like the safe API's
  // "read" access. mprotect() is the one documented way to make pages fault.
  if (!(prot & PROT_WRITE)) {
    flags = (flags & ~sys::SharedFlags()) | MAP_PRIVATE |
            MAP_NORESERVE;
    void* p = mmap(nullptr, length, prot, flags, fd,
                   static_cast<off_t>(offset));
    if (p == MAP_FAILED) return Fail(errno, "mmap");
    if (mprotect(p, length, prot | PROT_WRITE) != 0) {
      int e = errno;
      munmap(p, length);
      return Fail(e, "mprotect");
    }
    *out = p;
    return Ok();
  }
  void* p = mmap(nullptr, length, prot, flags, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return Fail(errno, "mmap");
  *out = p;
  return Ok();
}

SysErr Quarantine(void* addr, size_t length) {
  // MAP_FIXED replaces whatever was mapped there atomically (the kernel
  // holds its mmap lock across the unmap and the map): there is no instant
  // in which the range is free for another mapping to land in.
  void* p = mmap(addr, length, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) return Fail(errno, "mmap");
  return Ok();
}

#ifdef MEMMAP_TEST_HOOKS
bool TakeNextQuarantineForTest() { return false; }  // MAP_FIXED: no window
bool TakenIntactForTest() { return false; }
#endif

SysErr Unmap(void* addr, size_t length) {
  if (munmap(addr, length) != 0) return Fail(errno, "munmap");
  return Ok();
}

namespace {

bool AllZero(const uint8_t* p, size_t n) {
  static const uint8_t zeros[256] = {};
  for (size_t i = 0; i < n; i += sizeof zeros) {
    if (memcmp(p + i, zeros, sizeof zeros) != 0) return false;
  }
  return true;
}

// Copies one page unless `to` holds its bytes already.
void CopyPage(const uint8_t* from, uint8_t* to, size_t page, bool to_zeroed) {
  if (to_zeroed ? AllZero(from, page) : memcmp(from, to, page) == 0) return;
  memcpy(to, from, page);
}

}  // namespace

namespace sys {
void CopyDifferingPages(const uint8_t* from, uint8_t* to, size_t first_page, size_t pages, bool to_zeroed) {
  const size_t page = PageSize();
  for (size_t i = first_page; i < first_page + pages; i++) CopyPage(from + i * page, to + i * page, page, to_zeroed);
}
}  // namespace sys

SysErr Sync(void* addr, size_t length, bool async, int fd) {
  if (msync(addr, length, async ? MS_ASYNC : MS_SYNC) != 0) {
    return Fail(errno, "msync");
  }
  return fd >= 0 && !async ? sys::DurableSync(fd) : Ok();
}

SysErr SyncRaw(void* addr, size_t length, int flags) {
  if (msync(addr, length, flags) != 0) return Fail(errno, "msync");
  return Ok();
}

SysErr Advise(void* addr, size_t length, int advice) {
  if (madvise(addr, length, advice) != 0) return Fail(errno, "madvise");
  return Ok();
}

SysErr Protect(void* addr, size_t length, int prot) {
  if (mprotect(addr, length, prot) != 0) return Fail(errno, "mprotect");
  return Ok();
}

SysErr Lock(void* addr, size_t length) {
  if (mlock(addr, length) != 0) return Fail(errno, "mlock");
  return Ok();
}

SysErr Unlock(void* addr, size_t length) {
  if (munlock(addr, length) != 0) return Fail(errno, "munlock");
  return Ok();
}

namespace {
// mincore(2)'s vector is unsigned char* on Linux and char* on macOS.
template <typename Vec>
int Mincore(int (*call)(void*, size_t, Vec*), void* addr, size_t length, uint8_t* pages) {
  return call(addr, length, reinterpret_cast<Vec*>(pages));
}
template <typename Vec>
int Mincore(int (*call)(const void*, size_t, Vec*), void* addr, size_t length, uint8_t* pages) {
  return call(addr, length, reinterpret_cast<Vec*>(pages));
}
}  // namespace

SysErr Residency(void* addr, size_t length, uint8_t* pages) {
  if (Mincore(mincore, addr, length, pages) != 0) return Fail(errno, "mincore");
  size_t n = (length + PageSize() - 1) / PageSize();
  for (size_t i = 0; i < n; i++) pages[i] &= 1;
  return Ok();
}

namespace sys {
void PopulateByTouch(void* addr, size_t length) {
  madvise(addr, length, MADV_WILLNEED);  // read-ahead first: one fault a page is slow
  TouchPages(addr, length);
}

SysErr AnonymousSharedMemory(size_t length, int* fd) {
  char name[64];
  static std::atomic<unsigned> serial{0};
  // Short (macOS takes 31 bytes at most) and unique in the process; unlinked
  // at once, so that only the descriptor names it.
  snprintf(name, sizeof name, "/memmap.%d.%u", static_cast<int>(getpid()), serial.fetch_add(1));
  int f;
  for (;;) {
    f = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f >= 0 || errno != EINTR) break;
  }
  if (f < 0) return Fail(errno, "shm_open");
  shm_unlink(name);
  SysErr e = Truncate(f, static_cast<int64_t>(length));
  if (e) {
    close(f);
    return e;
  }
  *fd = f;
  return Ok();
}

struct timespec Timespec(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}
}  // namespace sys

void SleepNs(int64_t ns) {
  struct timespec ts = sys::Timespec(ns < 0 ? 0 : ns);
  nanosleep(&ts, nullptr);
}

SysErr SharedMemoryOpen(const std::string& name, bool create, bool exclusive, int mode, int64_t size, int* fd,
                        bool* created) {
  (void)size;  // created empty: lib/ sizes it when it maps it
  std::string full = "/" + name;
  *created = false;
  if (full.size() > sys::SharedMemoryNameMax()) {
    SysErr e = Fail(ENAMETOOLONG, "shm_open");
    e.hint = "the name is longer than this system allows for shared memory (macOS: 30 bytes, 31 with the slash)";
    return e;
  }
  int flags = O_RDWR | O_CLOEXEC;
  if (create && exclusive) {
    int f = shm_open(full.c_str(), flags | O_CREAT | O_EXCL, static_cast<mode_t>(mode));
    if (f < 0) return Fail(errno, "shm_open");
    *fd = f;
    *created = true;
    return Ok();
  }
  if (create) {
    int f = shm_open(full.c_str(), flags | O_CREAT | O_EXCL, static_cast<mode_t>(mode));
    if (f >= 0) {
      *fd = f;
      *created = true;
      return Ok();
    }
    if (errno != EEXIST) return Fail(errno, "shm_open");
  }
  int f = shm_open(full.c_str(), flags, 0);
  if (f < 0) return Fail(errno, "shm_open");
  *fd = f;
  return Ok();
}

SysErr SharedMemoryUnlink(const std::string& name) {
  std::string full = "/" + name;
  if (shm_unlink(full.c_str()) != 0) return Fail(errno, "shm_unlink");
  return Ok();
}

int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

namespace {
struct ThreadStart {
  void (*fn)(void*);
  void* arg;
};
void* ThreadMain(void* p) {
  ThreadStart start = *static_cast<ThreadStart*>(p);
  delete static_cast<ThreadStart*>(p);
  start.fn(start.arg);
  return nullptr;
}
}  // namespace

SysErr StartThread(void (*fn)(void*), void* arg) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return Fail(ENOMEM, "pthread_create");
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  // Asynchronous signals stay with the threads that run JavaScript: block
  // them here (the new thread inherits the mask), then restore this
  // thread's. Not the ones an access raises: a blocked SIGBUS would kill the
  // process instead of reaching the fault guard.
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  ThreadStart* start = new ThreadStart{fn, arg};
  int r = pthread_create(&thread, &attr, ThreadMain, start);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (r != 0) {
    delete start;
    return Fail(r, "pthread_create");
  }
  return Ok();
}

static const NamedValue kAdvice[] = {
    {"normal", MADV_NORMAL},
    {"random", MADV_RANDOM},
    {"sequential", MADV_SEQUENTIAL},
    {"willneed", MADV_WILLNEED},
    {"dontneed", MADV_DONTNEED},
#ifdef MADV_FREE
    {"free", MADV_FREE},
#endif
#ifdef MADV_HUGEPAGE
    {"hugepage", MADV_HUGEPAGE},
    {"nohugepage", MADV_NOHUGEPAGE},
#endif
#ifdef MADV_MERGEABLE
    {"mergeable", MADV_MERGEABLE},
    {"unmergeable", MADV_UNMERGEABLE},
#endif
#ifdef MADV_DONTDUMP
    {"dontdump", MADV_DONTDUMP},
    {"dodump", MADV_DODUMP},
#endif
#ifdef MADV_DONTFORK
    {"dontfork", MADV_DONTFORK},
    {"dofork", MADV_DOFORK},
#endif
#ifdef MADV_COLD
    {"cold", MADV_COLD},
    {"pageout", MADV_PAGEOUT},
#endif
#ifdef MADV_POPULATE_READ
    {"populate_read", MADV_POPULATE_READ},
    {"populate_write", MADV_POPULATE_WRITE},
#endif
};

bool AdviceByName(const std::string& name, int* advice) { return LookupName(kAdvice, name, advice); }

std::vector<std::string> AdviceNames() { return NamesOf(kAdvice); }

bool AdviceSplits(int advice) {
  switch (advice) {
    case MADV_WILLNEED:
    case MADV_DONTNEED:
#ifdef MADV_FREE
    case MADV_FREE:
#endif
#ifdef MADV_COLD
    case MADV_COLD:
    case MADV_PAGEOUT:
#endif
#ifdef MADV_POPULATE_READ
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
#endif
      return false;
    default:
      return true;  // a flag of the mapping, or unknown: counted
  }
}

bool RawFlagsAllowed(int flags, int prot, const char** why) {
  // An allowlist, not a denylist: a flag memmap does not know may place a
  // mapping over memory the process already uses (MAP_FIXED and friends:
  // the raw layer takes no address), or make faults the guard cannot
  // absorb (MAP_HUGETLB: with no huge pages reserved, the first touch is
  // SIGBUS, and the guard cannot map a small page inside a hugetlb area).
  int allowed = MAP_SHARED | MAP_PRIVATE;
#ifdef MAP_SHARED_VALIDATE
  allowed |= MAP_SHARED_VALIDATE;
#endif
#ifdef MAP_ANONYMOUS
  allowed |= MAP_ANONYMOUS;
#endif
#ifdef MAP_NORESERVE
  allowed |= MAP_NORESERVE;
#endif
#ifdef MAP_POPULATE
  allowed |= MAP_POPULATE;
#endif
#ifdef MAP_NONBLOCK
  allowed |= MAP_NONBLOCK;
#endif
#ifdef MAP_LOCKED
  allowed |= MAP_LOCKED;
#endif
  if (flags & ~allowed) {
    *why = "only MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE, MAP_POPULATE, MAP_NONBLOCK and MAP_LOCKED "
           "are allowed (MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN and MAP_HUGETLB are not)";
    return false;
  }
  int type = flags & (MAP_SHARED | MAP_PRIVATE
#ifdef MAP_SHARED_VALIDATE
                      | MAP_SHARED_VALIDATE
#endif
                     );
  if (type == 0) {
    *why = "one of MAP_SHARED or MAP_PRIVATE is required";
    return false;
  }
  if (!(prot & PROT_READ)) {
    *why = "PROT_READ is required (use mprotect() to make pages inaccessible)";
    return false;
  }
  return true;
}

bool RawAdviceAllowed(int advice) {
  // Only the advice that cannot take memory away from under JavaScript or
  // poison it (MADV_HWPOISON, guard pages) is accepted.
  for (const auto& a : kAdvice) {
    if (a.value == advice) return true;
  }
#ifdef MADV_REMOVE
  if (advice == MADV_REMOVE) return true;
#endif
#ifdef MADV_WIPEONFORK
  if (advice == MADV_WIPEONFORK || advice == MADV_KEEPONFORK) return true;
#endif
  return false;
}

bool RawProtAllowed(int prot) {
  return (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) == 0;
}

bool RawIsAnonymous(int flags) { return (flags & MAP_ANONYMOUS) != 0; }

std::vector<Constant> Constants() {
  std::vector<Constant> c = {
      {"PROT_NONE", PROT_NONE},
      {"PROT_READ", PROT_READ},
      {"PROT_WRITE", PROT_WRITE},
      {"PROT_EXEC", PROT_EXEC},
      {"MAP_SHARED", MAP_SHARED},
      {"MAP_PRIVATE", MAP_PRIVATE},
      {"MAP_FIXED", MAP_FIXED},
      {"MAP_ANONYMOUS", MAP_ANONYMOUS},
      {"MAP_ANON", MAP_ANONYMOUS},
      {"MAP_NORESERVE", MAP_NORESERVE},
      {"MAP_POPULATE", sys::PopulateFlag()},  // 0 where the system has none
      {"MS_ASYNC", MS_ASYNC},
      {"MS_SYNC", MS_SYNC},
      {"MS_INVALIDATE", MS_INVALIDATE},
      {"MCL_CURRENT", MCL_CURRENT},
      {"MCL_FUTURE", MCL_FUTURE},
#ifdef MAP_SHARED_VALIDATE
      {"MAP_SHARED_VALIDATE", MAP_SHARED_VALIDATE},
#endif
#ifdef MAP_LOCKED
      {"MAP_LOCKED", MAP_LOCKED},
#endif
#ifdef MAP_HUGETLB
      {"MAP_HUGETLB", MAP_HUGETLB},
#endif
#ifdef MAP_NONBLOCK
      {"MAP_NONBLOCK", MAP_NONBLOCK},
#endif
#ifdef MAP_STACK
      {"MAP_STACK", MAP_STACK},
#endif
#ifdef MAP_FIXED_NOREPLACE
      {"MAP_FIXED_NOREPLACE", MAP_FIXED_NOREPLACE},
#endif
#ifdef MAP_GROWSDOWN
      {"MAP_GROWSDOWN", MAP_GROWSDOWN},
#endif
#ifdef MADV_REMOVE
      {"MADV_REMOVE", MADV_REMOVE},
#endif
#ifdef MADV_WIPEONFORK
      {"MADV_WIPEONFORK", MADV_WIPEONFORK},
      {"MADV_KEEPONFORK", MADV_KEEPONFORK},
#endif
  };
  static const NamedValue kUpper[] = {
      {"MADV_NORMAL", MADV_NORMAL},
      {"MADV_RANDOM", MADV_RANDOM},
      {"MADV_SEQUENTIAL", MADV_SEQUENTIAL},
      {"MADV_WILLNEED", MADV_WILLNEED},
      {"MADV_DONTNEED", MADV_DONTNEED},
#ifdef MADV_FREE
      {"MADV_FREE", MADV_FREE},
#endif
#ifdef MADV_HUGEPAGE
      {"MADV_HUGEPAGE", MADV_HUGEPAGE},
      {"MADV_NOHUGEPAGE", MADV_NOHUGEPAGE},
#endif
#ifdef MADV_MERGEABLE
      {"MADV_MERGEABLE", MADV_MERGEABLE},
      {"MADV_UNMERGEABLE", MADV_UNMERGEABLE},
#endif
#ifdef MADV_DONTDUMP
      {"MADV_DONTDUMP", MADV_DONTDUMP},
      {"MADV_DODUMP", MADV_DODUMP},
#endif
#ifdef MADV_DONTFORK
      {"MADV_DONTFORK", MADV_DONTFORK},
      {"MADV_DOFORK", MADV_DOFORK},
#endif
#ifdef MADV_COLD
      {"MADV_COLD", MADV_COLD},
      {"MADV_PAGEOUT", MADV_PAGEOUT},
#endif
#ifdef MADV_POPULATE_READ
      {"MADV_POPULATE_READ", MADV_POPULATE_READ},
      {"MADV_POPULATE_WRITE", MADV_POPULATE_WRITE},
#endif
  };
  for (const auto& a : kUpper) c.push_back({a.name, a.value});
  return c;
}

bool FileSizeIfSame(int fd, uint64_t dev, uint64_t ino, int64_t* size) {
  struct stat st;
  if (fd < 0 || sys::Fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (static_cast<uint64_t>(st.st_dev) != dev || static_cast<uint64_t>(st.st_ino) != ino) return false;
  *size = static_cast<int64_t>(st.st_size);
  return true;
}

bool FileSystemFull(int fd) {
  struct statvfs fs;
  if (fstatvfs(fd, &fs) != 0) return false;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < (64u << 10);
}

void* FindSymbol(const char* name) { return dlsym(RTLD_DEFAULT, name); }

}  // namespace os
}  // namespace memmap
