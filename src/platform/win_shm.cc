// Shared memory on Windows: pagefile-backed sections, anonymous or named
// (Local\ or Global\), with their sizes (NtQuerySection, and wine's
// rounding). Their descriptors are win.cc's (SectionFd).
#include "win.h"  // first: <uv.h> before <windows.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>

#include "platform.h"

namespace memmap {
namespace os {

using namespace win;  // NOLINT: the namespace's files share it (win.h)

namespace win {

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

bool SharedMemoryResizable() { return false; }  // a section's size is fixed when it is made

}  // namespace os
}  // namespace memmap
