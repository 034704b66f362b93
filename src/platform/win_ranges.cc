// The ranges the platform layer makes on Windows, and the registry that
// knows them: views (MapView, MapSection) and allocations (MapAnonymous)
// are entered when made, and leave by Unmap, or are replaced by Quarantine
// (zeroed memory at the same addresses, or lost to another allocator);
// anonymous memory is reset in place (ResetAnonymous, MADV_DONTNEED's
// work); and the fault guard asks RecoverFault about a fault in a range
// being replaced or reset. The test build's stand-in for another allocator
// is here too.
#include "win.h"  // first: <uv.h> before <windows.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "platform.h"

namespace memmap {
namespace os {

using namespace win;  // NOLINT: the namespace's files share it (win.h)

namespace win {

// The range registry (Kind: win.h). A range that Quarantine
// replaced is marked, so that the fault guard can
// tell a fault that hit it while it was being replaced (retried) from one
// that memmap did not cause (not its business). The lock is held across a
// replacement and across the making of every range (Make), never while
// mapped memory is touched: a range of memmap's, made by any thread, can
// never land in the addresses a replacement has freed for a moment.
// A writable view of a file also keeps a duplicate of the file's handle,
// for Sync to wait for the disk with (FlushFileBuffers).
struct Range {
  Kind kind;
  size_t length;
  bool quarantined;
  HANDLE file;
};
std::mutex g_ranges_mutex;
std::map<uintptr_t, Range>& Ranges() {
  static auto* ranges = new std::map<uintptr_t, Range>();  // never destroyed: used until the process ends
  return *ranges;
}
// Makes a range with `make` (MapViewOfFile or VirtualAlloc: null and the
// error in GetLastError on failure) and enters it, under the lock.
template <typename F>
void* Make(Kind k, size_t length, F make, DWORD* err) {
  std::lock_guard<std::mutex> lock(g_ranges_mutex);
  void* p = make();
  *err = p ? 0 : GetLastError();
  if (p) Ranges()[reinterpret_cast<uintptr_t>(p)] = Range{k, length, false, nullptr};
  return p;
}
bool NoteFile(void* p, HANDLE file) {
  HANDLE dup = nullptr;
  if (!DuplicateHandle(GetCurrentProcess(), file, GetCurrentProcess(), &dup, 0, FALSE, DUPLICATE_SAME_ACCESS)) return false;
  {
    std::lock_guard<std::mutex> lock(g_ranges_mutex);
    auto it = Ranges().find(reinterpret_cast<uintptr_t>(p));
    if (it != Ranges().end()) {
      it->second.file = dup;
      return true;
    }
  }
  CloseHandle(dup);
  return false;
}
bool Forget(void* p, Kind* k) {
  std::unique_lock<std::mutex> lock(g_ranges_mutex);
  auto it = Ranges().find(reinterpret_cast<uintptr_t>(p));
  if (it == Ranges().end()) return false;
  *k = it->second.kind;
  HANDLE file = it->second.file;
  Ranges().erase(it);
  lock.unlock();
  if (file) CloseHandle(file);  // outside the lock: the last handle of a file on a share can block
  return true;
}
// The file handle kept for the range holding addr, duplicated into *out
// for the caller (who closes it); *out stays null where there is none (not
// a writable view of a file). Fails only when the duplicate cannot be made.
SysErr FileAt(void* addr, HANDLE* out) {
  *out = nullptr;
  std::lock_guard<std::mutex> lock(g_ranges_mutex);
  auto it = Ranges().upper_bound(reinterpret_cast<uintptr_t>(addr));
  if (it == Ranges().begin()) return Ok();
  --it;
  if (!it->second.file || reinterpret_cast<uintptr_t>(addr) - it->first >= it->second.length) return Ok();
  if (!DuplicateHandle(GetCurrentProcess(), it->second.file, GetCurrentProcess(), out, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
    return FailWin("fsync");
  }
  return Ok();
}

SysErr MapView(HANDLE section, DWORD access, int64_t offset, size_t length, void** out) {
  DWORD err;
  void* p = Make(Kind::kView, length, [&] {
    return MapViewOfFile(section, access, static_cast<DWORD>(static_cast<uint64_t>(offset) >> 32),
                         static_cast<DWORD>(offset & 0xffffffff), length);
  }, &err);
  // Failures are mmap's, as on POSIX: a descriptor opened without the
  // access asked for is EACCES (libuv would say EPERM for ACCESS_DENIED).
  if (!p) return Fail(err == ERROR_ACCESS_DENIED ? EACCES : ErrnoOf(err), "mmap");
  *out = p;
  return Ok();
}

SysErr MapSection(HANDLE file, DWORD protect, DWORD access, int64_t offset, size_t length, void** out) {
  if (IsSection(file)) return MapView(file, access, offset, length, out);  // shared memory
  HANDLE section = CreateFileMappingW(file, nullptr, protect, 0, 0, nullptr);
  if (!section) {
    DWORD err = GetLastError();
    return Fail(err == ERROR_ACCESS_DENIED ? EACCES : ErrnoOf(err), "mmap");
  }
  SysErr e = MapView(section, access, offset, length, out);
  CloseHandle(section);  // the view keeps the section alive
  if (!e && (access & FILE_MAP_WRITE) && !(access & FILE_MAP_COPY) && !NoteFile(*out, file)) {
    // Without its handle, flush() could not wait for the disk: no mapping.
    e = FailWin("mmap");
    Unmap(*out, length);
  }
  return e;
}

}  // namespace win

SysErr MapAnonymous(Access access, size_t length, const MapOptions& opts, void** out) {
  (void)access;  // kAnonShared comes with a descriptor (SharedMemoryCreate) and is mapped by MapFile
  DWORD err;
  void* p = Make(Kind::kAlloc, length, [&] {
    return VirtualAlloc(nullptr, length, MEM_RESERVE | MEM_COMMIT, opts.exec ? PAGE_EXECUTE_READWRITE : PAGE_READWRITE);
  }, &err);
  // More than the address space holds is ERROR_INVALID_PARAMETER here,
  // ENOMEM from mmap(2).
  if (!p) return Fail(err == ERROR_INVALID_PARAMETER ? ENOMEM : ErrnoOf(err), "mmap");
  *out = p;
  return Ok();
}

namespace {
#ifdef MEMMAP_TEST_HOOKS
// The test build can play the other allocator: the next Quarantine of a
// view finds its addresses taken (TakeNextQuarantineForTest).
// It takes the range's first allocation unit, so that the rest is left
// free (KeepFree).
std::atomic<bool> g_take_next{false};
void* g_taken = nullptr;
size_t g_taken_length = 0;
size_t g_range_length = 0;
std::atomic<int> g_stray_unmaps{0};  // Unmap of an address not ours
void TakeForTest(void* addr, size_t length) {
  if (!g_take_next.exchange(false)) return;
  g_taken_length = std::min(length, AllocationGranularity());
  g_taken = VirtualAlloc(addr, g_taken_length, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
  g_range_length = length;
  if (g_taken) memset(g_taken, 0x5a, g_taken_length);
}
void StrayUnmapForTest() { g_stray_unmaps++; }
#else
void TakeForTest(void*, size_t) {}
void StrayUnmapForTest() {}
#endif
}  // namespace

#ifdef MEMMAP_TEST_HOOKS
bool TakeNextQuarantineForTest() {
  g_stray_unmaps = 0;
  g_take_next = true;
  return true;
}
bool TakenIntactForTest() {
  std::lock_guard<std::mutex> lock(g_ranges_mutex);
  if (!g_taken) return false;
  MEMORY_BASIC_INFORMATION mbi;
  bool intact = VirtualQuery(g_taken, &mbi, sizeof mbi) == sizeof mbi && mbi.State == MEM_COMMIT &&
                mbi.Protect == PAGE_READWRITE && mbi.AllocationBase == g_taken && mbi.RegionSize >= g_taken_length;
  for (size_t i = 0; intact && i < g_taken_length; i++) intact = static_cast<uint8_t*>(g_taken)[i] == 0x5a;
  // The rest of the range was kept, zero-filled, out of the registry.
  for (uintptr_t p = reinterpret_cast<uintptr_t>(g_taken) + g_taken_length,
                 end = reinterpret_cast<uintptr_t>(g_taken) + g_range_length;
       intact && p < end; p += PageSize()) {
    intact = VirtualQuery(reinterpret_cast<void*>(p), &mbi, sizeof mbi) == sizeof mbi && mbi.State == MEM_COMMIT &&
             mbi.Type == MEM_PRIVATE && mbi.Protect == PAGE_READWRITE && *reinterpret_cast<uint8_t*>(p) == 0 &&
             Ranges().count(reinterpret_cast<uintptr_t>(mbi.AllocationBase)) == 0;
  }
  VirtualFree(g_taken, 0, MEM_RELEASE);
  g_taken = nullptr;
  return intact && g_stray_unmaps == 0;
}
#endif

SysErr Unmap(void* addr, size_t length) {
  (void)length;  // a view or an allocation goes whole
  Kind k;
  if (!Forget(addr, &k)) {
    StrayUnmapForTest();
    return Fail(EINVAL, "munmap");
  }
  if (k == Kind::kView ? !UnmapViewOfFile(addr) : !VirtualFree(addr, 0, MEM_RELEASE)) return FailWin("munmap");
  return Ok();
}

namespace {
// Decommits and commits again the committed pages of [start, end) (page
// aligned, anonymous memory of ours; the range lock held), each region with
// the protection it had, so that they read zeros and their memory goes
// back. 0, or an errno value: a region left uncommitted is committed again
// by the guard at its next touch (RecoverFault).
int ResetPages(uintptr_t start, uintptr_t end) {
  for (uintptr_t p = start; p < end;) {
    MEMORY_BASIC_INFORMATION mbi;
    if (VirtualQuery(reinterpret_cast<void*>(p), &mbi, sizeof mbi) != sizeof mbi) return EINVAL;
    uintptr_t region_end = std::min<uintptr_t>(end, reinterpret_cast<uintptr_t>(mbi.BaseAddress) + mbi.RegionSize);
    if (mbi.State == MEM_COMMIT) {
      void* at = reinterpret_cast<void*>(p);
      if (!VirtualFree(at, region_end - p, MEM_DECOMMIT)) return ErrnoOf(GetLastError());
      if (!VirtualAlloc(at, region_end - p, MEM_COMMIT, mbi.Protect)) return ENOMEM;
    }
    p = region_end;
  }
  return 0;
}
}  // namespace

namespace win {
// What MADV_DONTNEED does to private anonymous memory: its pages go back and
// read zeros. -1 when [addr, addr + length) is not anonymous memory of
// ours, 0 when done, or an errno value (EINVAL for locked pages, as Linux).
int ResetAnonymous(void* addr, size_t length) {
  std::lock_guard<std::mutex> lock(g_ranges_mutex);
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  auto it = Ranges().upper_bound(a);
  if (it == Ranges().begin()) return -1;
  --it;
  if (it->second.kind != Kind::kAlloc || a - it->first >= it->second.length || length > it->second.length - (a - it->first)) {
    return -1;
  }
  const uintptr_t page = PageSize();
  uintptr_t start = a & ~(page - 1), end = (a + length + page - 1) & ~(page - 1);
  bool locked = false;
  if (!ForEachPage(reinterpret_cast<void*>(start), (end - start) / page,
                   [&](size_t, const PSAPI_WORKING_SET_EX_BLOCK& b) { locked = locked || b.Locked; })) {
    return ErrnoOf(GetLastError());
  }
  return locked ? EINVAL : ResetPages(start, end);
}
}  // namespace win

namespace {
// What is still free of [addr, addr + length) after another allocator took
// part of it: taken now, zero-filled, and kept for good (never unmapped,
// out of the registry), so that no range of memmap's is made there later
// for a late write through an old view to reach. Under the range lock.
void KeepFree(void* addr, size_t length) {
  const uintptr_t unit = AllocationGranularity();
  for (uintptr_t p = reinterpret_cast<uintptr_t>(addr), end = p + length; p < end;) {
    MEMORY_BASIC_INFORMATION mbi;
    if (VirtualQuery(reinterpret_cast<void*>(p), &mbi, sizeof mbi) != sizeof mbi) return;
    uintptr_t region_end = std::min<uintptr_t>(end, reinterpret_cast<uintptr_t>(mbi.BaseAddress) + mbi.RegionSize);
    uintptr_t from = (p + unit - 1) & ~(unit - 1);  // reservations start on a unit
    if (mbi.State == MEM_FREE && from < region_end) {
      VirtualAlloc(reinterpret_cast<void*>(from), region_end - from, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    }
    p = region_end;
  }
}
}  // namespace

// Windows cannot replace a view in place (MapViewOfFile3's placeholders
// can, but wine does not have them): the view goes, and zeroed memory is
// allocated at the same address at once, with the range lock held, so that
// a thread faulting in between waits in the guard (RecoverFault) and then
// retries, and no range of memmap's can be made there meanwhile (Make).
// Another allocator of the process (V8's heap, the C runtime's) could still
// take the addresses in between; then they are not ours any more: EADDRINUSE
// (os::QuarantineLost), and the owner must never unmap them
// (docs/backends.md says what late accesses do then). Anonymous memory is
// decommitted and committed again, under the same lock.
SysErr Quarantine(void* addr, size_t length) {
  HANDLE file = nullptr;  // closed outside the lock
  bool lost = false;
  {
    std::lock_guard<std::mutex> lock(g_ranges_mutex);
    auto it = Ranges().find(reinterpret_cast<uintptr_t>(addr));
    if (it == Ranges().end()) return Fail(EINVAL, "mmap");
    Range& r = it->second;
    if (r.kind == Kind::kAlloc) {
      // Anonymous memory: decommitted and committed again reads zeros.
      int err = ResetPages(reinterpret_cast<uintptr_t>(addr), reinterpret_cast<uintptr_t>(addr) + length);
      r.quarantined = true;
      return err ? Fail(err, "mmap") : Ok();
    }
    if (!UnmapViewOfFile(addr)) return FailWin("mmap");
    file = r.file;  // the view is gone, and the file with it
    TakeForTest(addr, length);
    void* p = VirtualAlloc(addr, length, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (p == addr) {
      r = Range{Kind::kAlloc, length, true, nullptr};
    } else {
      Ranges().erase(it);
      if (p) VirtualFree(p, 0, MEM_RELEASE);
      KeepFree(addr, length);
      lost = true;
    }
  }
  if (file) CloseHandle(file);
  return lost ? Fail(EADDRINUSE, "mmap") : Ok();
}


bool RecoverFault(int op, uintptr_t addr) {
  std::lock_guard<std::mutex> lock(g_ranges_mutex);  // waits for a replacement under way
  auto it = Ranges().upper_bound(addr);
  if (it == Ranges().begin()) return false;
  --it;
  // Anonymous memory of ours is committed but for the moment ResetPages
  // decommits it under this lock (or where committing it again failed).
  if (!(it->second.quarantined || it->second.kind == Kind::kAlloc) || addr - it->first >= it->second.length) return false;
  MEMORY_BASIC_INFORMATION mbi;
  if (VirtualQuery(reinterpret_cast<void*>(addr), &mbi, sizeof mbi) != sizeof mbi) return false;
  if (mbi.State == MEM_RESERVE) {  // left uncommitted: commit the page now (out of memory: not recovered)
    const uintptr_t page = PageSize();
    return VirtualAlloc(reinterpret_cast<void*>(addr & ~(page - 1)), page, MEM_COMMIT, PAGE_READWRITE) != nullptr;
  }
  return mbi.State == MEM_COMMIT && !ProtectionForbids(static_cast<ULONG_PTR>(op), addr);
}

}  // namespace os
}  // namespace memmap
