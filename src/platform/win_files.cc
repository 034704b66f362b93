// Files on Windows: open (CreateFileW), stat, truncate and reserve (the
// file's end and allocation size), unlink, and what has no Windows form
// (posix_fadvise) or is not asked there (the fault guard's file checks).
// The descriptors themselves are win.cc's.
#include "win.h"  // first: <uv.h> before <windows.h>

#include <cerrno>

#include "platform.h"

namespace memmap {
namespace os {

using namespace win;  // NOLINT: the namespace's files share it (win.h)

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

void Unlink(const std::string& path) { DeleteFileW(Wide(path).c_str()); }

SysErr FileAdvise(int fd, int64_t offset, int64_t length, int advice) {
  (void)fd; (void)offset; (void)length; (void)advice;
  return Fail(ENOTSUP, "posix_fadvise");
}

bool FileAdviceByName(const std::string& name, int* advice) {
  (void)name; (void)advice;
  return false;
}

std::vector<std::string> FileAdviceNames() { return {}; }

bool FileSizeIfSame(int, uint64_t, uint64_t, int64_t*) { return false; }
// Windows' guard replaces a whole view at a fault; which loss it was is
// not told apart there.
bool FileSystemFull(int) { return false; }

}  // namespace os
}  // namespace memmap
