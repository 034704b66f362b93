// POSIX implementation of the platform contract (Linux first; the BSDs and
// macOS take the fallbacks marked below).
#include "glibc_compat.h"  // first: pins the glibc versions of what follows
#include "platform.h"

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
#include <climits>
#include <ctime>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include <cstdio>
#include <cstring>
// The size of a block device (os::Stat)
#include <sys/ioctl.h>
#if defined(__linux__)
#include <linux/fs.h>
#elif defined(__APPLE__)
#include <sys/disk.h>
#endif

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
#ifndef MAP_POPULATE
#define MAP_POPULATE 0
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

bool CanRemap() {
#if defined(__linux__)
  return true;
#else
  return false;
#endif
}

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

// fstat(2) as the system call on glibc: glibc 2.33 made fstat a function of
// its own (GLIBC_2.33), which a build meant to run on glibc 2.28 must not
// need (src/glibc_compat.h). The kernel's struct stat is glibc's on the
// 64-bit Linux ports.
static int FstatCall(int fd, struct stat* st) {
#if defined(__linux__) && defined(__GLIBC__) && defined(SYS_fstat) && defined(__LP64__)
  return static_cast<int>(syscall(SYS_fstat, fd, st));
#else
  return fstat(fd, st);
#endif
}

SysErr Stat(int fd, FileInfo* info) {
  struct stat st;
  if (FstatCall(fd, &st) != 0) return Fail(errno, "fstat");
  info->size = static_cast<int64_t>(st.st_size);
  info->regular = S_ISREG(st.st_mode);
  info->block = S_ISBLK(st.st_mode);
  info->character = S_ISCHR(st.st_mode);
  info->directory = S_ISDIR(st.st_mode);
  info->fifo = S_ISFIFO(st.st_mode);
  info->dev = static_cast<uint64_t>(st.st_dev);
  info->ino = static_cast<uint64_t>(st.st_ino);
  if (info->block) {
    // st_size is 0 for block devices, so the size is asked of the device.
    // Not with lseek(fd, 0, SEEK_END): fd is the caller's descriptor (raw
    // mmap) or a dup() of it (map(fd)), and the two "share file offset and
    // file status flags" (dup(2)), so a seek would leave the caller's next
    // read() at the end. Where no ioctl gives the size, the position is put
    // back (a thread of the caller reading meanwhile could still see it moved).
#if defined(__linux__)
    uint64_t bytes = 0;
    if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) return Fail(errno, "ioctl");
    info->size = static_cast<int64_t>(bytes);
#elif defined(__APPLE__)
    uint64_t blocks = 0;
    uint32_t block_size = 0;
    if (ioctl(fd, DKIOCGETBLOCKCOUNT, &blocks) != 0 || ioctl(fd, DKIOCGETBLOCKSIZE, &block_size) != 0) {
      return Fail(errno, "ioctl");
    }
    info->size = static_cast<int64_t>(blocks * block_size);
#else
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (at < 0) return Fail(errno, "lseek");
    off_t end = lseek(fd, 0, SEEK_END);
    int err = errno;
    if (lseek(fd, at, SEEK_SET) < 0) return Fail(errno, "lseek");
    if (end < 0) return Fail(err, "lseek");
    info->size = static_cast<int64_t>(end);
#endif
  }
  return Ok();
}

SysErr Truncate(int fd, int64_t size) {
  for (;;) {
    if (ftruncate(fd, static_cast<off_t>(size)) == 0) return Ok();
    if (errno != EINTR) return Fail(errno, "ftruncate");
  }
}

SysErr Reserve(int fd, int64_t old_size, int64_t new_size) {
  if (new_size <= old_size) return Ok();
#if defined(__linux__)
  // fallocate(2) both reserves the blocks and extends the file. The errors
  // the Go linker tolerates (the file system cannot preallocate) fall back to
  // a plain ftruncate: the file still has the right size, only unreserved.
  for (;;) {
    if (fallocate(fd, 0, static_cast<off_t>(old_size),
                  static_cast<off_t>(new_size - old_size)) == 0) {
      return Ok();
    }
    if (errno == EINTR) continue;
    if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EPERM ||
        errno == EINVAL) {
      break;
    }
    return Fail(errno, "fallocate");
  }
#elif !defined(__APPLE__)
  int r;
  do {
    r = posix_fallocate(fd, static_cast<off_t>(old_size),
                        static_cast<off_t>(new_size - old_size));
  } while (r == EINTR);
  if (r == 0) return Ok();
  if (r != EOPNOTSUPP && r != ENOSYS && r != EINVAL && r != EPERM) {
    return Fail(r, "posix_fallocate");
  }
#else
  fstore_t store = {F_ALLOCATECONTIG, F_PEOFPOSMODE, 0,
                    static_cast<off_t>(new_size - old_size), 0};
  if (fcntl(fd, F_PREALLOCATE, &store) == -1) {
    store.fst_flags = F_ALLOCATEALL;
    if (fcntl(fd, F_PREALLOCATE, &store) == -1 && errno == ENOSPC) {
      return Fail(errno, "fcntl");
    }
  }
#endif
  return Truncate(fd, new_size);
}

void Close(int fd) {
  if (fd >= 0) close(fd);  // not retried on EINTR: the fd is gone either way
}

void Unlink(const std::string& path) { unlink(path.c_str()); }

static int ExecBit(const MapOptions& opts) {
  return opts.exec ? PROT_EXEC : 0;
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
  void* p = MAP_FAILED;
  if (access == Access::kWrite) {
    p = mmap(nullptr, length, PROT_READ | PROT_WRITE | ExecBit(opts),
             MAP_SHARED | (opts.populate ? MAP_POPULATE : 0), fd,
             static_cast<off_t>(offset));
    if (p == MAP_FAILED) return Fail(errno, "mmap");
  } else {
    // "read" and "copy" are both private writable mappings: a JavaScript
    // write lands in a private copy of the page and never in the file, and
    // never faults. "read" adds MAP_NORESERVE: no swap is accounted for
    // pages that are only meant to be read.
    //
    // Populating (MAP_POPULATE) a private *writable* mapping makes the kernel
    // copy every page (copy-on-write is broken up front: a 256 MiB read
    // mapping became 256 MiB of anonymous memory). So the pages are
    // populated while the mapping is still PROT_READ, and the protection is
    // raised afterwards, which leaves them shared with the page cache.
    int flags = MAP_PRIVATE | (access == Access::kRead ? MAP_NORESERVE : 0);
    int prot = PROT_READ | ExecBit(opts);
    p = mmap(nullptr, length, opts.populate ? prot : prot | PROT_WRITE,
             flags | (opts.populate ? MAP_POPULATE : 0), fd,
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
  int flags = MAP_ANONYMOUS |
              (access == Access::kAnonShared ? MAP_SHARED : MAP_PRIVATE) |
              (opts.populate ? MAP_POPULATE : 0);
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
    flags = (flags & ~(MAP_SHARED | MAP_SHARED_VALIDATE)) | MAP_PRIVATE |
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

SysErr Remap(void* addr, size_t old_length, size_t new_length, void** out) {
#if defined(__linux__)
  void* p = mremap(addr, old_length, new_length, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) return Fail(errno, "mremap");
  *out = p;
  return Ok();
#else
  (void)addr;
  (void)old_length;
  (void)new_length;
  (void)out;
  return Fail(ENOTSUP, "mremap");
#endif
}

SysErr RemapInPlace(void* addr, size_t old_length, size_t new_length) {
#if defined(__linux__)
  if (mremap(addr, old_length, new_length, 0) == MAP_FAILED) return Fail(errno, "mremap");
  return Ok();
#else
  (void)addr;
  (void)old_length;
  (void)new_length;
  return Fail(ENOTSUP, "mremap");
#endif
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
  int fd = -1;
#if defined(__linux__)
  fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
#endif
  uint64_t entries[512];
  size_t i = 0;
  while (i < pages) {
    size_t n = std::min(pages - i, sizeof entries / sizeof entries[0]);
    off_t at = static_cast<off_t>((reinterpret_cast<uintptr_t>(from) / page + i) * sizeof(uint64_t));
    ssize_t got = fd >= 0 ? pread(fd, entries, n * sizeof(uint64_t), at) : -1;
    if (got < static_cast<ssize_t>(sizeof(uint64_t))) {
      if (fd >= 0) close(fd);
      fd = -1;
      for (; i < pages; i++) CopyPage(from + i * page, to + i * page, page, to_zeroed);
      break;
    }
    n = static_cast<size_t>(got) / sizeof(uint64_t);
    for (size_t k = 0; k < n; k++, i++) {
      uint64_t e = entries[k];
      bool own = ((e >> 63) & 1 || (e >> 62) & 1) && !((e >> 61) & 1);
      if (own) CopyPage(from + i * page, to + i * page, page, to_zeroed);
    }
  }
  if (fd >= 0) close(fd);
}

SysErr Sync(void* addr, size_t length, bool async) {
  if (msync(addr, length, async ? MS_ASYNC : MS_SYNC) != 0) {
    return Fail(errno, "msync");
  }
  return Ok();
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

SysErr Residency(void* addr, size_t length, uint8_t* pages) {
#if defined(__linux__)
  unsigned char* vec = reinterpret_cast<unsigned char*>(pages);
#else
  char* vec = reinterpret_cast<char*>(pages);
#endif
  if (mincore(addr, length, vec) != 0) return Fail(errno, "mincore");
  size_t n = (length + PageSize() - 1) / PageSize();
  for (size_t i = 0; i < n; i++) pages[i] &= 1;
  return Ok();
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
  // Older kernels: ask for read-ahead, then touch one byte a page.
  madvise(addr, length, MADV_WILLNEED);
  TouchPages(addr, length);
  return Ok();
}

SysErr SharedMemoryCreate(size_t length, int* fd) {
#if defined(__linux__)
  int f = memfd_create("memmap", MFD_CLOEXEC);
  if (f < 0) return Fail(errno, "memfd_create");
#else
  // Elsewhere: a POSIX object that is unlinked at once.
  char name[64];
  snprintf(name, sizeof name, "/memmap-%d-%p", static_cast<int>(getpid()), static_cast<void*>(fd));
  int f = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (f < 0) return Fail(errno, "shm_open");
  shm_unlink(name);
#endif
  SysErr e = Truncate(f, static_cast<int64_t>(length));
  if (e) {
    close(f);
    return e;
  }
  *fd = f;
  return Ok();
}

SysErr SharedMemoryOpen(const std::string& name, bool create, bool exclusive, int mode, int64_t size, int* fd,
                        bool* created) {
  (void)size;  // created empty: lib/ sizes it when it maps it
  std::string full = "/" + name;
  *created = false;
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

#if defined(__linux__)
namespace {
// `ns` as a timespec in `ts`, or null when it is negative (no timeout).
struct timespec* Timespec(int64_t ns, struct timespec* ts) {
  if (ns < 0) return nullptr;
  ts->tv_sec = static_cast<time_t>(ns / 1000000000);
  ts->tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}
}  // namespace
#endif

SysErr WaitOnAddress(void* addr, int32_t expected, int64_t timeout_ns, int* outcome) {
#if defined(__linux__)
  struct timespec ts;
  struct timespec* tp = Timespec(timeout_ns, &ts);
  // Not FUTEX_PRIVATE_FLAG: the word may be shared with other processes.
  long r = syscall(SYS_futex, addr, FUTEX_WAIT, expected, tp, nullptr, 0);
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
#else
  (void)addr; (void)expected; (void)timeout_ns; (void)outcome;
  return Fail(ENOTSUP, "futex");
#endif
}

SysErr WakeAddress(void* addr, int32_t count, int* woken) {
#if defined(__linux__)
  long r = syscall(SYS_futex, addr, FUTEX_WAKE, count, nullptr, nullptr, 0);
  if (r < 0) return Fail(errno, "futex");
  *woken = static_cast<int>(r);
  return Ok();
#else
  (void)addr; (void)count; (void)woken;
  return Fail(ENOTSUP, "futex");
#endif
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

#if defined(__linux__)
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449  // the same number on every architecture
#endif
// <linux/futex.h> has these from 5.16 on; spelled out for older headers.
struct FutexWaitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};
constexpr uint32_t kFutex2Size32 = 0x02;  // FUTEX2_SIZE_U32; not FUTEX2_PRIVATE: words may be shared
#endif

SysErr WaitOnAny(const WaitTarget* targets, size_t n, int64_t deadline_ns, int* woken) {
#if defined(__linux__)
  if (n == 0 || n > kMaxWaitTargets) return Fail(EINVAL, "futex_waitv");
  FutexWaitv waiters[kMaxWaitTargets];
  for (size_t i = 0; i < n; i++) {
    waiters[i].val = static_cast<uint32_t>(targets[i].expected);
    waiters[i].uaddr = reinterpret_cast<uintptr_t>(targets[i].addr);
    waiters[i].flags = kFutex2Size32;
    waiters[i].reserved = 0;
  }
  struct timespec ts;
  struct timespec* tp = Timespec(deadline_ns, &ts);
  long r = syscall(SYS_futex_waitv, waiters, static_cast<unsigned>(n), 0u, tp, CLOCK_MONOTONIC);
  if (r < 0) return Fail(errno, "futex_waitv");
  *woken = static_cast<int>(r);
  return Ok();
#else
  (void)targets; (void)n; (void)deadline_ns; (void)woken;
  return Fail(ENOSYS, "futex_waitv");
#endif
}

#if defined(POSIX_FADV_NORMAL)
static const NamedValue kFileAdvice[] = {
    {"normal", POSIX_FADV_NORMAL},     {"sequential", POSIX_FADV_SEQUENTIAL},
    {"random", POSIX_FADV_RANDOM},     {"willneed", POSIX_FADV_WILLNEED},
    {"dontneed", POSIX_FADV_DONTNEED}, {"noreuse", POSIX_FADV_NOREUSE},
};
#endif

SysErr FileAdvise(int fd, int64_t offset, int64_t length, int advice) {
#if defined(POSIX_FADV_NORMAL)
  int r = posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(length), advice);
  if (r != 0) return Fail(r, "posix_fadvise");
  return Ok();
#else
  (void)fd; (void)offset; (void)length; (void)advice;
  return Fail(ENOTSUP, "posix_fadvise");
#endif
}

bool FileAdviceByName(const std::string& name, int* advice) {
#if defined(POSIX_FADV_NORMAL)
  return LookupName(kFileAdvice, name, advice);
#else
  (void)name;
  (void)advice;
  return false;
#endif
}

std::vector<std::string> FileAdviceNames() {
#if defined(POSIX_FADV_NORMAL)
  return NamesOf(kFileAdvice);
#else
  return {};
#endif
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
      {"MAP_POPULATE", MAP_POPULATE},
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

size_t MaxMapCount() {
#if defined(__linux__)
  FILE* f = fopen("/proc/sys/vm/max_map_count", "re");
  if (!f) return 0;
  unsigned long n = 0;
  if (fscanf(f, "%lu", &n) != 1) n = 0;
  fclose(f);
  return static_cast<size_t>(n);
#else
  return 0;
#endif
}

int64_t CountMappings() {
#if defined(__linux__)
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
#else
  return -1;
#endif
}

bool FileSizeIfSame(int fd, uint64_t dev, uint64_t ino, int64_t* size) {
  struct stat st;
  if (fd < 0 || FstatCall(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
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
