// Windows implementation of the platform contract: CreateFileMapping and
// MapViewOfFile where POSIX has mmap.
//
// Descriptors. The contract speaks of int descriptors, the ones Node's fs
// hands out: on Windows those belong to node.exe's C runtime, which this
// addon (built with mingw, another runtime) cannot index. libuv, which
// node.exe exports, translates: uv_get_osfhandle() gives the HANDLE behind
// a descriptor, uv_open_osfhandle() makes one for a HANDLE this file opened,
// and uv_fs_close() closes it, all in node.exe's runtime.
//
// Errors. SysErr carries C errno values (mingw's <errno.h>) like everywhere
// else, so that the shared code can test them; Win32 errors become errno
// values here (through libuv's table), and ErrnoForJs() gives lib/ the code
// libuv uses on Windows, which is what util.getSystemErrorMap() knows.
//
// What has no Windows equivalent is ENOTSUP with the system call named:
// mremap (resize maps afresh instead: CanRemap), madvise's advice names
// beyond willneed/dontneed, posix_fadvise, futex-style waits across
// processes, POSIX named shared memory, and the raw layer's MAP_/PROT_ flags
// beyond what maps cleanly (docs/backends.md).

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <atomic>
#include <map>
#include <mutex>

#include "win.h"  // first: <uv.h> before <windows.h>
#include <psapi.h>

#include "platform.h"

namespace memmap {
namespace os {

using namespace win;  // NOLINT: this file is the namespace's home

namespace win {

// errno value <-> libuv's code on Windows, for the errors the addon makes.
struct ErrPair {
  int err;
  int uv;
};
const ErrPair kErrors[] = {
    {ENOENT, UV_ENOENT},   {EACCES, UV_EACCES},   {EPERM, UV_EPERM},     {EEXIST, UV_EEXIST},
    {EINVAL, UV_EINVAL},   {ENOMEM, UV_ENOMEM},   {ENOSPC, UV_ENOSPC},   {EBUSY, UV_EBUSY},
    {EBADF, UV_EBADF},     {EMFILE, UV_EMFILE},   {ENFILE, UV_ENFILE},   {EAGAIN, UV_EAGAIN},
    {EIO, UV_EIO},         {ENOTSUP, UV_ENOTSUP}, {ENOSYS, UV_ENOSYS},   {EFAULT, UV_EFAULT},
    {EISDIR, UV_EISDIR},   {ENOTDIR, UV_ENOTDIR}, {ENODEV, UV_ENODEV},   {ETIMEDOUT, UV_ETIMEDOUT},
    {EINTR, UV_EINTR},     {ERANGE, UV_ERANGE},   {EFBIG, UV_EFBIG},     {ENAMETOOLONG, UV_ENAMETOOLONG},
    {EROFS, UV_EROFS},     {EXDEV, UV_EXDEV},     {ENXIO, UV_ENXIO},     {ESPIPE, UV_ESPIPE},
    {ECANCELED, UV_ECANCELED},
};

// A Win32 error as an errno value. ERROR_USER_MAPPED_FILE (a mapped file
// cannot be truncated) is EBUSY, as libuv's own EBUSY for a busy file is.
int ErrnoOf(DWORD win) {
  if (win == ERROR_USER_MAPPED_FILE || win == ERROR_SHARING_VIOLATION || win == ERROR_LOCK_VIOLATION) return EBUSY;
  if (win == ERROR_COMMITMENT_LIMIT || win == ERROR_NOT_ENOUGH_MEMORY || win == ERROR_OUTOFMEMORY) return ENOMEM;
  if (win == ERROR_NOT_SUPPORTED || win == ERROR_CALL_NOT_IMPLEMENTED) return ENOTSUP;
  int uv = uv_translate_sys_error(static_cast<int>(win));
  for (const auto& p : kErrors) {
    if (p.uv == uv) return p.err;
  }
  return EIO;
}

SysErr FailWin(const char* syscall) { return Fail(ErrnoOf(GetLastError()), syscall); }

// Shared memory is a pagefile-backed section, which node.exe's C runtime
// will not take as a descriptor (_open_osfhandle refuses a HANDLE that is
// not a file). Sections get descriptors of this file's own instead, from
// kSectionFd up, which every function here takes like the runtime's; fs
// does not know them (EBADF), as it does not know a memfd's on POSIX
// either in another process.
constexpr int kSectionFd = 1 << 28;
struct Section {
  HANDLE handle;
  uint64_t serial;  // the same for every duplicate: Stat's inode
  int64_t size;     // as made here; -1: opened by name, asked of the system
};
std::mutex g_sections_mutex;
std::map<int, Section>& Sections() {
  static auto* sections = new std::map<int, Section>();  // never destroyed: used until the process ends
  return *sections;
}
SysErr SectionFd(HANDLE h, uint64_t serial, int64_t size, int* fd) {
  std::lock_guard<std::mutex> lock(g_sections_mutex);
  int f = kSectionFd;
  while (Sections().count(f)) f++;
  Sections()[f] = Section{h, serial, size};
  *fd = f;
  return Ok();
}
bool SectionOf(int fd, Section* out) {
  if (fd < kSectionFd) return false;
  std::lock_guard<std::mutex> lock(g_sections_mutex);
  auto it = Sections().find(fd);
  if (it == Sections().end()) return false;
  *out = it->second;
  return true;
}
// Whether h is one of the sections behind those descriptors (MapSection
// maps a section directly; a file needs one made for it).
bool IsSection(HANDLE h) {
  std::lock_guard<std::mutex> lock(g_sections_mutex);
  for (const auto& kv : Sections()) {
    if (kv.second.handle == h) return true;
  }
  return false;
}
uint64_t NewSerial() {
  static std::atomic<uint64_t> serial{1};
  return serial++;
}

HANDLE HandleOf(int fd) {
  if (fd < 0) return INVALID_HANDLE_VALUE;
  Section sec;
  if (fd >= kSectionFd) return SectionOf(fd, &sec) ? sec.handle : INVALID_HANDLE_VALUE;
  return reinterpret_cast<HANDLE>(uv_get_osfhandle(fd));
}

// A HANDLE this file opened, as a descriptor of node.exe's runtime.
SysErr FdFor(HANDLE h, int* fd) {
  int f = uv_open_osfhandle(reinterpret_cast<uv_os_fd_t>(h));
  if (f < 0) {
    CloseHandle(h);
    return Fail(EMFILE, "open");
  }
  *fd = f;
  return Ok();
}

std::wstring Wide(const std::string& s) {
  if (s.empty()) return std::wstring();
  int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
  std::wstring w(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), &w[0], n);
  return w;
}

// The range registry (Kind: platform_win.h). A range that Quarantine
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

// WaitOnAddress and friends (Windows 8+).
template <typename F>
F Synch(const char* name) { return Lookup<F>(L"api-ms-win-core-synch-l1-2-0.dll", name); }

// PrefetchVirtualMemory (Windows 8+): the file's pages are read into memory
// in large requests, without being added to this process's working set.
void PrefetchHint(void* addr, size_t length) {
  using Prefetch = BOOL(WINAPI*)(HANDLE, ULONG_PTR, PWIN32_MEMORY_RANGE_ENTRY, ULONG);
  static const Prefetch prefetch = Kernel32<Prefetch>("PrefetchVirtualMemory");
  if (!prefetch) return;
  WIN32_MEMORY_RANGE_ENTRY range{addr, length};
  prefetch(GetCurrentProcess(), 1, &range, 0);
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

// NtQuerySection(SectionBasicInformation): a section's size (wine gives it
// rounded up to whole pages, Windows exactly).
bool SectionSize(HANDLE h, int64_t* size) {
  struct SectionBasic {
    PVOID base;
    ULONG attributes;
    LARGE_INTEGER size;
  };
  using Query = LONG(NTAPI*)(HANDLE, int, PVOID, SIZE_T, PSIZE_T);
  static const Query query = Lookup<Query>(L"ntdll.dll", "NtQuerySection");
  if (!query || h == INVALID_HANDLE_VALUE || !h) return false;
  SectionBasic info{};
  if (query(h, 0 /* SectionBasicInformation */, &info, sizeof info, nullptr) < 0) return false;
  *size = info.size.QuadPart;
  return true;
}

}  // namespace win

int ErrnoForJs(int err) {
  for (const auto& p : kErrors) {
    if (p.err == err) return -p.uv;
  }
  return -UV_EIO;
}

bool CanRemap() { return false; }

bool LockCopiesPrivatePages() { return false; }

bool NodeKnowsFd(int fd) { return fd >= 0 && fd < kSectionFd; }

namespace {
const SYSTEM_INFO& SystemInfo() {
  static const SYSTEM_INFO info = [] {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si;
  }();
  return info;
}
}  // namespace

size_t PageSize() { return SystemInfo().dwPageSize; }

// Views start at multiples of the allocation granularity (64 KiB).
size_t AllocationGranularity() { return SystemInfo().dwAllocationGranularity; }

SysErr OpenFile(const std::string& path, bool write, bool create, int mode, int* fd, bool* created) {
  *created = false;
  // Windows' one permission bit, as libuv's open gives it: a mode without
  // the owner's write bit makes a read-only file.
  DWORD attributes = (mode & 0200) ? FILE_ATTRIBUTE_NORMAL : FILE_ATTRIBUTE_READONLY;
  std::wstring w = Wide(path);
  DWORD access = GENERIC_READ | (write ? GENERIC_WRITE : 0);
  // Others may read, write, rename and delete it meanwhile, as on POSIX;
  // Windows itself refuses to truncate a file with a view (EBUSY).
  DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
  for (int attempt = 0; attempt < 2; attempt++) {
    if (create) {
      HANDLE h = CreateFileW(w.c_str(), access, share, nullptr, CREATE_NEW, attributes, nullptr);
      if (h != INVALID_HANDLE_VALUE) {
        *created = true;
        return FdFor(h, fd);
      }
      DWORD e = GetLastError();
      if (e != ERROR_FILE_EXISTS && e != ERROR_ALREADY_EXISTS) return Fail(ErrnoOf(e), "open");
    }
    // FILE_FLAG_BACKUP_SEMANTICS: a directory opens too, and is then refused
    // by its type (EISDIR), as on POSIX.
    HANDLE h = CreateFileW(w.c_str(), access, share, nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr);
    if (h != INVALID_HANDLE_VALUE) return FdFor(h, fd);
    DWORD e = GetLastError();
    if (!(create && e == ERROR_FILE_NOT_FOUND)) return Fail(ErrnoOf(e), "open");
  }
  return Fail(ENOENT, "open");
}

SysErr DupFd(int fd, int* out) {
  HANDLE h = HandleOf(fd), dup = nullptr;
  if (h == INVALID_HANDLE_VALUE) return Fail(EBADF, "dup");
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
    return FailWin("dup");
  }
  Section sec;
  if (SectionOf(fd, &sec)) return SectionFd(dup, sec.serial, sec.size, out);
  return FdFor(dup, out);
}

SysErr Stat(int fd, FileInfo* info) {
  HANDLE h = HandleOf(fd);
  if (h == INVALID_HANDLE_VALUE) return Fail(EBADF, "fstat");
  *info = FileInfo();
  Section sec;
  if (SectionOf(fd, &sec)) {  // shared memory: its fixed size
    info->regular = true;
    info->ino = sec.serial;
    info->size = sec.size;
    return sec.size >= 0 || SectionSize(h, &info->size) ? Ok() : Fail(EBADF, "fstat");
  }
  DWORD type = GetFileType(h);
  if (type == FILE_TYPE_CHAR) {
    info->character = true;
    return Ok();
  }
  if (type == FILE_TYPE_PIPE) {
    info->fifo = true;
    return Ok();
  }
  BY_HANDLE_FILE_INFORMATION bi;
  if (!GetFileInformationByHandle(h, &bi)) return FailWin("fstat");
  info->directory = (bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
  info->regular = !info->directory;
  info->size = static_cast<int64_t>((static_cast<uint64_t>(bi.nFileSizeHigh) << 32) | bi.nFileSizeLow);
  info->dev = bi.dwVolumeSerialNumber;
  info->ino = (static_cast<uint64_t>(bi.nFileIndexHigh) << 32) | bi.nFileIndexLow;
  return Ok();
}

SysErr Truncate(int fd, int64_t size) {
  HANDLE h = HandleOf(fd);
  if (h == INVALID_HANDLE_VALUE) return Fail(EBADF, "ftruncate");
  Section sec;
  if (SectionOf(fd, &sec)) {
    // A section keeps the size it was made with (docs/backends.md).
    FileInfo fi;
    SysErr e = Stat(fd, &fi);
    return e ? e : size == fi.size ? Ok() : Fail(ENOTSUP, "ftruncate");
  }
  FILE_END_OF_FILE_INFO eof;
  eof.EndOfFile.QuadPart = size;
  if (!SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof eof)) return FailWin("ftruncate");
  return Ok();
}

SysErr Reserve(int fd, int64_t old_size, int64_t new_size) {
  if (new_size <= old_size) return Ok();
  HANDLE h = HandleOf(fd);
  if (h == INVALID_HANDLE_VALUE) return Fail(EBADF, "fallocate");
  // The allocation size reserves the clusters (ENOSPC now, not at write-back);
  // a file system that cannot is left to the end-of-file alone, as the Go
  // linker does with fallocate.
  FILE_ALLOCATION_INFO alloc;
  alloc.AllocationSize.QuadPart = new_size;
  if (!SetFileInformationByHandle(h, FileAllocationInfo, &alloc, sizeof alloc)) {
    DWORD e = GetLastError();
    if (e == ERROR_DISK_FULL || e == ERROR_HANDLE_DISK_FULL) return Fail(ENOSPC, "fallocate");
  }
  return Truncate(fd, new_size);
}

void Close(int fd) {
  if (fd < 0) return;
  if (fd >= kSectionFd) {
    std::lock_guard<std::mutex> lock(g_sections_mutex);
    auto it = Sections().find(fd);
    if (it != Sections().end()) {
      CloseHandle(it->second.handle);
      Sections().erase(it);
    }
    return;
  }
  uv_fs_t req;
  uv_fs_close(nullptr, &req, fd, nullptr);
  uv_fs_req_cleanup(&req);
}

void Unlink(const std::string& path) { DeleteFileW(Wide(path).c_str()); }

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

SysErr MapShadow(int fd, int64_t offset, size_t length, void** out) {
  HANDLE h = HandleOf(fd);
  if (h == INVALID_HANDLE_VALUE) return Fail(EBADF, "mmap");
  return MapSection(h, PAGE_READONLY, FILE_MAP_READ, offset, length, out);
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
// Asks QueryWorkingSetEx about each page of [addr, addr + n pages) and calls
// f(index, attributes) for each; false when the system refuses.
template <typename F>
bool ForEachPage(void* addr, size_t n, F f) {
  const size_t page = PageSize();
  std::vector<PSAPI_WORKING_SET_EX_INFORMATION> info(std::min<size_t>(n, 4096));
  for (size_t i = 0; i < n;) {
    size_t k = std::min(n - i, info.size());
    for (size_t j = 0; j < k; j++) info[j].VirtualAddress = static_cast<uint8_t*>(addr) + (i + j) * page;
    if (!QueryWorkingSetEx(GetCurrentProcess(), info.data(), static_cast<DWORD>(k * sizeof info[0]))) return false;
    for (size_t j = 0; j < k; j++) f(i + j, info[j].VirtualAttributes);
    i += k;
  }
  return true;
}

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
}  // namespace


namespace {
// What is still free of [addr, addr + length) after another allocator took
// part of it: taken now, zero-filled, and kept for good (never unmapped,
// out of the registry), so that no range of memmap's is made there later
// for a late write through an old window to reach. Under the range lock.
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

// Shared memory is a pagefile-backed section, as CreateFileMapping makes
// with INVALID_HANDLE_VALUE: committed at once (ENOMEM now rather than a
// fault later), of a size fixed when it is made, and gone when the last
// handle or view of it closes. Sizes of 0 are made 1 byte long (Windows
// refuses empty sections); nothing maps that byte.
namespace {
SysErr NewSection(const wchar_t* name, int64_t size, HANDLE* out, bool* existed) {
  uint64_t n = static_cast<uint64_t>(std::max<int64_t>(size, 1));
  HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, static_cast<DWORD>(n >> 32),
                                static_cast<DWORD>(n & 0xffffffff), name);
  if (!h) return FailWin(name ? "shm_open" : "memfd_create");
  *existed = GetLastError() == ERROR_ALREADY_EXISTS;
  *out = h;
  return Ok();
}

// Local\name unless the name says Global\ or Local\ itself (lib/shared.ts
// allows those two prefixes on Windows).
std::wstring SectionName(const std::string& name) {
  if (name.rfind("Global\\", 0) == 0 || name.rfind("Local\\", 0) == 0) return Wide(name);
  return L"Local\\" + Wide(name);
}
}  // namespace

namespace {
// The size of a named section. Windows reports it exactly; wine rounds it up
// to whole pages, so under wine the sizes of sections made in this process
// are kept by name and used while they agree with what the system reports.
int64_t NamedSize(const std::wstring& name, int64_t created_size, HANDLE h) {
  static const bool wine = Lookup<void (*)()>(L"ntdll.dll", "wine_get_version") != nullptr;
  static std::mutex mutex;
  static auto* sizes = new std::map<std::wstring, int64_t>();  // never destroyed: used until the process ends
  std::lock_guard<std::mutex> lock(mutex);
  if (created_size >= 0) {
    (*sizes)[name] = created_size;
    return created_size;
  }
  int64_t reported;
  if (!SectionSize(h, &reported)) return -1;
  auto it = sizes->find(name);
  if (!wine) return reported;
  const int64_t page = static_cast<int64_t>(PageSize());
  if (it != sizes->end() && (it->second + page - 1) / page * page == reported) return it->second;
  return reported;
}
}  // namespace

SysErr SharedMemoryCreate(size_t length, int* fd) {
  HANDLE h;
  bool existed;
  SysErr e = NewSection(nullptr, static_cast<int64_t>(length), &h, &existed);
  if (e) return e;
  return SectionFd(h, NewSerial(), static_cast<int64_t>(length), fd);
}

// Named sections: the name is the object, as POSIX's is, with two
// differences docs/backends.md states: creating one needs its size (POSIX
// makes it empty and ftruncate grows it), and the name lives while a
// handle or view of it is open, not until shm_unlink.
SysErr SharedMemoryOpen(const std::string& name, bool create, bool exclusive, int mode, int64_t size, int* fd,
                        bool* created) {
  (void)mode;  // a section made here has the default security of the process
  *created = false;
  std::wstring w = SectionName(name);
  // Read, write and query (NtQuerySection): what a Global\ object made
  // read-write for others grants, where FILE_MAP_ALL_ACCESS would not be.
  HANDLE h = OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE | SECTION_QUERY, FALSE, w.c_str());
  if (h) {
    if (create && exclusive) {
      CloseHandle(h);
      return Fail(EEXIST, "shm_open");
    }
  } else {
    DWORD err = GetLastError();
    if (err != ERROR_FILE_NOT_FOUND || !create) return Fail(err == ERROR_ACCESS_DENIED ? EACCES : ErrnoOf(err), "shm_open");
    if (size <= 0) return Fail(EINVAL, "shm_open");  // lib/ says: options.size is needed to create one here
    bool existed;
    SysErr e = NewSection(w.c_str(), size, &h, &existed);
    if (e) return e;
    if (existed && exclusive) {  // made by someone else in between
      CloseHandle(h);
      return Fail(EEXIST, "shm_open");
    }
    *created = !existed;
  }
  return SectionFd(h, NewSerial(), NamedSize(w, *created ? size : -1, h), fd);
}

// There is nothing to remove: the name goes with the last handle. A name
// that no one has open is ENOENT, as shm_unlink says.
SysErr SharedMemoryUnlink(const std::string& name) {
  HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, SectionName(name).c_str());
  if (!h) return Fail(ErrnoOf(GetLastError()), "shm_unlink");
  CloseHandle(h);
  return Ok();
}

// WaitOnAddress and WakeByAddressAll wait within one process (threads and
// workers), which is what Atomics-style waits on a mapping need there; they
// do not cross processes (docs/backends.md).
SysErr WaitOnAddress(void* addr, int32_t expected, int64_t timeout_ns, int* outcome) {
  using Wait = BOOL(WINAPI*)(volatile VOID*, PVOID, SIZE_T, DWORD);
  static const Wait wait = Synch<Wait>("WaitOnAddress");
  if (!wait) return Fail(ENOTSUP, "futex");
  if (*static_cast<volatile int32_t*>(addr) != expected) {
    *outcome = 1;
    return Ok();
  }
  DWORD ms = timeout_ns < 0 ? INFINITE : static_cast<DWORD>(std::min<int64_t>((timeout_ns + 999999) / 1000000, 0xfffffffe));
  if (wait(addr, &expected, sizeof expected, ms)) {
    *outcome = 0;
    return Ok();
  }
  if (GetLastError() == ERROR_TIMEOUT) {
    *outcome = 2;
    return Ok();
  }
  return FailWin("futex");
}

// Win32's WaitOnAddress compares the word in this process too, so this is
// WaitOnAddress: a view unmapped while a waiter thread sleeps on it is what
// the Windows guard's RecoverFault and the quarantine's reserved addresses
// are for (see Quarantine). Not yet shown safe under that race.
SysErr WaitOnAddressUnread(void* addr, int32_t expected, int64_t timeout_ns, int* outcome) {
  return WaitOnAddress(addr, expected, timeout_ns, outcome);
}

SysErr WakeAddress(void* addr, int32_t count, int* woken) {
  using WakeAll = void(WINAPI*)(PVOID);
  using WakeOne = void(WINAPI*)(PVOID);
  static const WakeAll wake_all = Synch<WakeAll>("WakeByAddressAll");
  static const WakeOne wake_one = Synch<WakeOne>("WakeByAddressSingle");
  if (!wake_all || !wake_one) return Fail(ENOTSUP, "futex");
  // Windows does not say how many it woke: the count asked for is reported.
  if (count == 1) {
    wake_one(addr);
  } else {
    wake_all(addr);
  }
  *woken = count;
  return Ok();
}

SysErr WaitOnAny(const WaitTarget* targets, size_t n, int64_t deadline_ns, int* woken) {
  (void)targets; (void)n; (void)deadline_ns; (void)woken;
  return Fail(ENOSYS, "futex_waitv");
}

void SleepNs(int64_t ns) { Sleep(static_cast<DWORD>(ns <= 0 ? 0 : (ns + 999999) / 1000000)); }

const char* SystemName() { return "win32"; }

// The Windows guard has rules of its own (guard_win.cc: exception codes, and
// the protection of the page asked of VirtualQuery): nothing to confirm
// against the file here.
bool FaultsNeedConfirming() { return false; }

bool SharedMemoryResizable() { return false; }  // a section's size is fixed when it is made

int64_t MonotonicNs() {
  static const int64_t freq = [] {
    LARGE_INTEGER f;
    QueryPerformanceFrequency(&f);
    return static_cast<int64_t>(f.QuadPart);
  }();
  LARGE_INTEGER c;
  QueryPerformanceCounter(&c);
  return static_cast<int64_t>(static_cast<long double>(c.QuadPart) * 1e9L / freq);
}

namespace {
struct ThreadStart {
  void (*fn)(void*);
  void* arg;
};
DWORD WINAPI ThreadMain(LPVOID p) {
  ThreadStart start = *static_cast<ThreadStart*>(p);
  delete static_cast<ThreadStart*>(p);
  start.fn(start.arg);
  return 0;
}
}  // namespace

SysErr StartThread(void (*fn)(void*), void* arg) {
  ThreadStart* start = new ThreadStart{fn, arg};
  HANDLE t = CreateThread(nullptr, 256 * 1024, ThreadMain, start, STACK_SIZE_PARAM_IS_A_RESERVATION, nullptr);
  if (!t) {
    delete start;
    return FailWin("pthread_create");
  }
  CloseHandle(t);
  return Ok();
}

SysErr FileAdvise(int fd, int64_t offset, int64_t length, int advice) {
  (void)fd; (void)offset; (void)length; (void)advice;
  return Fail(ENOTSUP, "posix_fadvise");
}

bool FileAdviceByName(const std::string& name, int* advice) {
  (void)name; (void)advice;
  return false;
}

std::vector<std::string> FileAdviceNames() { return {}; }

// The advice Windows can act on (see Advise); the others are accepted by
// name and do nothing, as the portable backend does.
static const NamedValue kAdvice[] = {
    {"normal", 0}, {"random", 1}, {"sequential", 2}, {"willneed", 3}, {"dontneed", 4},
};

bool AdviceByName(const std::string& name, int* advice) { return LookupName(kAdvice, name, advice); }

std::vector<std::string> AdviceNames() { return NamesOf(kAdvice); }

// Windows has no mapping count to split into (no budget there).
bool AdviceSplits(int) { return false; }

size_t MaxMapCount() { return 0; }
int64_t CountMappings() { return -1; }
bool FileSizeIfSame(int, uint64_t, uint64_t, int64_t*) { return false; }
// Windows' guard replaces a whole view at a fault; which loss it was is
// not told apart there.
bool FileSystemFull(int) { return false; }

// V8's C++ symbols are not exported by node.exe under names this addon
// could spell (MSVC mangling): no engine function is found (ForceGc then
// leaves collection to the runtime).
void* FindSymbol(const char* name) {
  (void)name;
  return nullptr;
}

}  // namespace os
}  // namespace memmap
