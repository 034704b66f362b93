// Windows implementation of the platform contract: CreateFileMapping and
// MapViewOfFile where POSIX has mmap.
//
// The files: this one holds what the others stand on (errors, descriptors)
// and the process (page size, clock, threads, symbols); win_files.cc files;
// win_ranges.cc the registry of views and allocations, and how each is made
// and ends (unmapped, quarantined, recovered at a fault); win_map.cc what is
// done to a mapping (map a file, sync, advise, lock, residency); win_shm.cc
// shared memory (sections); win_wait.cc WaitOnAddress; win_raw.cc the raw
// layer; win_delay_load.cc the import hook; guard_win.cc the fault guard.
// win.h is the seam between them.
//
// Descriptors. The contract speaks of int descriptors, the ones Node's fs
// hands out: on Windows those belong to node.exe's C runtime, which this
// addon (built with mingw, another runtime) cannot index. libuv, which
// node.exe exports, translates: uv_get_osfhandle() gives the HANDLE behind
// a descriptor, uv_open_osfhandle() makes one for a HANDLE the layer opened,
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
#include <atomic>
#include <map>
#include <mutex>

#include "win.h"  // first: <uv.h> before <windows.h>

#include "platform.h"

namespace memmap {
namespace os {

using namespace win;  // NOLINT: the namespace's files share it (win.h)

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
// kSectionFd up, which every function of the layer takes like the
// runtime's; fs does not know them (EBADF), as it does not know a memfd's
// on POSIX either in another process.
constexpr int kSectionFd = 1 << 28;
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

// A HANDLE the layer opened, as a descriptor of node.exe's runtime.
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

}  // namespace win

int ErrnoForJs(int err) {
  for (const auto& p : kErrors) {
    if (p.err == err) return -p.uv;
  }
  return -UV_EIO;
}

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

void SleepNs(int64_t ns) { Sleep(static_cast<DWORD>(ns <= 0 ? 0 : (ns + 999999) / 1000000)); }

const char* SystemName() { return "win32"; }

// The Windows guard has rules of its own (guard_win.cc: exception codes, and
// the protection of the page asked of VirtualQuery): nothing to confirm
// against the file here.
bool FaultsNeedConfirming() { return false; }

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

// No limit on mappings to read, and no count of them (no budget there).
size_t MaxMapCount() { return 0; }
int64_t CountMappings() { return -1; }

// V8's C++ symbols are not exported by node.exe under names this addon
// could spell (MSVC mangling): no engine function is found (ForceGc then
// leaves collection to the runtime).
void* FindSymbol(const char* name) {
  (void)name;
  return nullptr;
}

}  // namespace os
}  // namespace memmap
