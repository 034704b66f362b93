// What is done to a mapping on Windows: a file mapped as a view (MapFile,
// MapShadow), no remapping, private pages copied, FlushViewOfFile and
// FlushFileBuffers (Sync), advice (the prefetch; DONTNEED's reset is
// win_ranges.cc's), VirtualLock, residency (QueryWorkingSetEx) and
// populating. The views themselves are made and ended in win_ranges.cc.
#include "win.h"  // first: <uv.h> before <windows.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "platform.h"

namespace memmap {
namespace os {

using namespace win;  // NOLINT: the namespace's files share it (win.h)

namespace {

// PrefetchVirtualMemory (Windows 8+): the file's pages are read into memory
// in large requests, without being added to this process's working set.
void PrefetchHint(void* addr, size_t length) {
  using Prefetch = BOOL(WINAPI*)(HANDLE, ULONG_PTR, PWIN32_MEMORY_RANGE_ENTRY, ULONG);
  static const Prefetch prefetch = Kernel32<Prefetch>("PrefetchVirtualMemory");
  if (!prefetch) return;
  WIN32_MEMORY_RANGE_ENTRY range{addr, length};
  prefetch(GetCurrentProcess(), 1, &range, 0);
}

}  // namespace

bool CanRemap() { return false; }

bool LockCopiesPrivatePages() { return false; }

SysErr MapFile(Access access, int fd, int64_t offset, size_t length, const MapOptions& opts, void** out) {
  HANDLE h = HandleOf(fd);
  if (h == INVALID_HANDLE_VALUE) return Fail(EBADF, "mmap");
  // A view cannot pass the end of the file (POSIX maps the last page
  // whole): the view is cut at the end, and still covers that page whole.
  FileInfo fi;
  SysErr e = Stat(fd, &fi);
  if (e) return e;
  if (offset >= fi.size) return Fail(EINVAL, "mmap");
  size_t view = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(length), fi.size - offset));
  if (access == Access::kWrite) {
    e = MapSection(h, opts.exec ? PAGE_EXECUTE_READWRITE : PAGE_READWRITE,
                   FILE_MAP_WRITE | FILE_MAP_READ | (opts.exec ? FILE_MAP_EXECUTE : 0), offset, view, out);
  } else {
    // "read" and "copy": copy-on-write views, so that a JavaScript write
    // lands in a private page and never faults (as MAP_PRIVATE on POSIX).
    e = MapSection(h, opts.exec ? PAGE_EXECUTE_WRITECOPY : PAGE_WRITECOPY,
                   FILE_MAP_COPY | (opts.exec ? FILE_MAP_EXECUTE : 0), offset, view, out);
  }
  if (e) return e;
  // A hint only: the range is not yet in the fault guard, so nothing here
  // may touch it (an I/O error behind the view would be fatal).
  if (opts.populate) PrefetchHint(*out, view);
  return Ok();
}

SysErr MapShadow(int fd, int64_t offset, size_t length, void** out) {
  HANDLE h = HandleOf(fd);
  if (h == INVALID_HANDLE_VALUE) return Fail(EBADF, "mmap");
  return MapSection(h, PAGE_READONLY, FILE_MAP_READ, offset, length, out);
}

SysErr Remap(void* addr, size_t old_length, size_t new_length, void** out) {
  (void)addr; (void)old_length; (void)new_length; (void)out;
  return Fail(ENOTSUP, "mremap");
}

SysErr RemapInPlace(void* addr, size_t old_length, size_t new_length) {
  (void)addr; (void)old_length; (void)new_length;
  return Fail(ENOTSUP, "mremap");
}

// Every page is compared: Windows has no /proc/self/pagemap (a page's
// "shared" bit from QueryWorkingSetEx is only known while it is resident).
void CopyPrivatePages(const void* from_v, void* to_v, size_t length, bool to_zeroed) {
  const uint8_t* from = static_cast<const uint8_t*>(from_v);
  uint8_t* to = static_cast<uint8_t*>(to_v);
  const size_t page = PageSize();
  static const uint8_t zeros[4096] = {};
  for (size_t off = 0; off < length; off += page) {
    size_t n = std::min(page, length - off);
    bool same = to_zeroed ? (n <= sizeof zeros && memcmp(from + off, zeros, n) == 0) : memcmp(from + off, to + off, n) == 0;
    if (!same) memcpy(to + off, from + off, n);
  }
}

// FlushViewOfFile hands the dirty pages to the file system (MS_ASYNC);
// MS_SYNC then waits for the disk with FlushFileBuffers on the handle kept
// with the view, as Go's mmap-go and memmap2 do on Windows.
SysErr Sync(void* addr, size_t length, bool async, int) {  // the file is found from the view
  if (!FlushViewOfFile(addr, length)) return FailWin("msync");
  if (async) return Ok();
  HANDLE file;
  SysErr e = FileAt(addr, &file);
  if (e || !file) return e;  // shared memory, or a copy-on-write view: no file to wait for
  BOOL ok = FlushFileBuffers(file);
  DWORD err = GetLastError();
  CloseHandle(file);
  return ok ? Ok() : Fail(ErrnoOf(err), "fsync");
}

SysErr Advise(void* addr, size_t length, int advice) {
  if (advice == 3 /* willneed */) {  // a hint, as madvise's: nothing waits for the reads
    PrefetchHint(addr, length);
    return Ok();
  }
  if (advice == 4 /* dontneed */) {
    // Anonymous memory: given back and zero-filled again, as Linux's
    // MADV_DONTNEED does on private memory (decommitted and committed under
    // the range lock; a thread touching it in between waits in the guard
    // and retries). A view's pages leave the working set and keep their
    // data: Windows cannot drop a copy-on-write page back to the file's.
    int err = ResetAnonymous(addr, length);
    if (err > 0) return Fail(err, "madvise");
    if (err == 0) return Ok();
    VirtualUnlock(addr, length);
    return Ok();
  }
  return Ok();  // normal, random, sequential: hints Windows takes from its own heuristics
}

// VirtualLock keeps the pages in the working set; they are touched as well,
// as mlock(2) faults them in (wine's VirtualLock does not).
SysErr Lock(void* addr, size_t length) {
  if (!VirtualLock(addr, length)) return FailWin("mlock");
  TouchPages(addr, length);
  return Ok();
}

SysErr Unlock(void* addr, size_t length) {
  if (!VirtualUnlock(addr, length)) {
    DWORD e = GetLastError();
    if (e != ERROR_NOT_LOCKED) return Fail(ErrnoOf(e), "munlock");
  }
  return Ok();
}

SysErr Residency(void* addr, size_t length, uint8_t* pages) {
  const size_t page = PageSize();
  if (!ForEachPage(addr, (length + page - 1) / page,
                   [&](size_t i, const PSAPI_WORKING_SET_EX_BLOCK& b) { pages[i] = b.Valid ? 1 : 0; })) {
    return FailWin("mincore");
  }
  return Ok();
}

// As MADV_POPULATE_READ: the pages are in memory and mapped when it
// returns, so residency() counts them (Windows' residency is the working
// set: a page read in but never touched is not in it). The prefetch first
// turns the page-at-a-time faults of the touch into large reads.
SysErr Populate(void* addr, size_t length) {
  PrefetchHint(addr, length);
  TouchPages(addr, length);
  return Ok();
}

// The advice Windows can act on (see Advise); the others are accepted by
// name and do nothing, as the portable backend does.
static const NamedValue kAdvice[] = {
    {"normal", 0}, {"random", 1}, {"sequential", 2}, {"willneed", 3}, {"dontneed", 4},
};

bool AdviceByName(const std::string& name, int* advice) { return LookupName(kAdvice, name, advice); }

std::vector<std::string> AdviceNames() { return NamesOf(kAdvice); }

// Windows has no mapping count to split into (no budget there).
bool AdviceSplits(int) { return false; }

}  // namespace os
}  // namespace memmap
