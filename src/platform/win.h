// What platform_win.cc shares with the other Windows files of the platform
// layer (platform_win_raw.cc): Win32 errors as errno values, descriptors
// as HANDLEs, views, and the registry of the ranges they made.
#ifndef MEMMAP_PLATFORM_WIN_H_
#define MEMMAP_PLATFORM_WIN_H_

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <uv.h>  // first: it includes <winsock2.h> before <windows.h>
#include <windows.h>

#include <string>

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
