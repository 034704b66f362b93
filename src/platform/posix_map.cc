// Mappings on every POSIX system: mmap for the safe API, the shadow and the
// raw layer, the quarantine that replaces a range in place, munmap, and what
// is done to a mapping (msync, madvise, mprotect, mlock, mincore), with the
// helpers the systems' files share for copying private pages and
// populating. Remapping, CopyPrivatePages and Populate themselves are each
// system's (linux.cc, darwin_common.cc).
#include "glibc_compat.h"  // first: pins the glibc versions of what follows
#include "posix.h"

#include <errno.h>
#include <sys/mman.h>
#include <cstring>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

namespace memmap {
namespace os {

bool LockCopiesPrivatePages() { return true; }

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
bool TakeNextQuarantineForTest() { return false; }  // MAP_FIXED: no moment between unmap and map
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
}  // namespace sys

}  // namespace os
}  // namespace memmap
