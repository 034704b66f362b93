// What the Windows files of the platform layer share (win.cc says which
// holds what): Win32 errors as errno values, descriptors as HANDLEs (shared
// memory's own among them), views, and the registry of the ranges they made.
#ifndef MEMMAP_PLATFORM_WIN_H_
#define MEMMAP_PLATFORM_WIN_H_

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <uv.h>  // first: it includes <winsock2.h> before <windows.h>
#include <windows.h>
#include <psapi.h>

#include <algorithm>
#include <string>
#include <vector>

#include "platform.h"

namespace memmap {
namespace os {
namespace win {

// A Win32 error as an errno value, and a failure of `syscall` with the
// thread's last error.
int ErrnoOf(DWORD win);
SysErr FailWin(const char* syscall);

// The HANDLE behind a descriptor of node.exe's runtime (INVALID_HANDLE_VALUE
// for none), and a descriptor for a HANDLE (closed on failure).
HANDLE HandleOf(int fd);
SysErr FdFor(HANDLE h, int* fd);
std::wstring Wide(const std::string& s);

// Shared memory's descriptors (win.cc): a section gets one of the platform
// layer's own, which every function of the contract takes like node.exe's.
// SectionFd gives one for a section (a new one's serial: NewSerial());
// SectionOf says what one holds, or false for any other descriptor;
// IsSection whether a HANDLE is one of those sections.
struct Section {
  HANDLE handle;
  uint64_t serial;  // the same for every duplicate: Stat's inode
  int64_t size;     // as made here; -1: opened by name, asked of the system
};
SysErr SectionFd(HANDLE h, uint64_t serial, int64_t size, int* fd);
bool SectionOf(int fd, Section* out);
bool IsSection(HANDLE h);
uint64_t NewSerial();

// A pagefile-backed section's size as the system reports it (wine rounds
// it up to whole pages), or false.
bool SectionSize(HANDLE h, int64_t* size);

// Whether the protection of the page at addr forbids the access that
// faulted there (op: 0 read, 1 write, 8 execute): mprotect() of the raw
// layer made it so, its one documented fault, which the guard leaves alone.
bool ProtectionForbids(ULONG_PTR op, uintptr_t addr);

// Maps a view of `section` (FILE_MAP_* access) and notes it; mmap-shaped
// errors. MapSection takes a file (it makes the section for it first) or
// shared memory's section, as HandleOf gives either.
SysErr MapView(HANDLE section, DWORD access, int64_t offset, size_t length, void** out);
SysErr MapSection(HANDLE file, DWORD protect, DWORD access, int64_t offset, size_t length, void** out);

// Every range the platform layer made, so that Unmap and Quarantine call the
// matching release: UnmapViewOfFile for views, VirtualFree for allocations.
enum class Kind { kView, kAlloc };

// The file handle kept with the writable view of a file holding addr,
// duplicated into *out (the caller closes it; null where there is none),
// for Sync to wait for the disk with (win_ranges.cc).
SysErr FileAt(void* addr, HANDLE* out);
// MADV_DONTNEED on anonymous memory of ours: its pages go back and read
// zeros. -1 when the range is not that, 0 when done, or an errno value
// (win_ranges.cc).
int ResetAnonymous(void* addr, size_t length);

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

// Functions newer than Windows 7 (wine reports 7 unless told otherwise):
// looked up, not linked, so that the addon loads everywhere Node does.
template <typename F>
F Lookup(const wchar_t* module, const char* name) {
  HMODULE m = LoadLibraryW(module);  // already loaded: a reference count, kept
  return m ? reinterpret_cast<F>(reinterpret_cast<void*>(GetProcAddress(m, name))) : nullptr;
}
template <typename F>
F Kernel32(const char* name) { return Lookup<F>(L"kernel32.dll", name); }

}  // namespace win
}  // namespace os
}  // namespace memmap

#endif  // MEMMAP_PLATFORM_WIN_H_
