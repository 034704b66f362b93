// Files on every POSIX system: open, dup, stat, reserve and truncate,
// close and unlink, and what the fault guard asks of a file (its size if it
// is still the same file; whether its file system is full). The systems'
// own calls (fstat, a block device's size, preallocation, resizing) come
// through posix.h.
#include "glibc_compat.h"  // first: pins the glibc versions of what follows
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace memmap {
namespace os {

bool NodeKnowsFd(int fd) { return fd >= 0; }

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

SysErr Stat(int fd, FileInfo* info) {
  struct stat st;
  if (sys::Fstat(fd, &st) != 0) return Fail(errno, "fstat");
  info->size = static_cast<int64_t>(st.st_size);
  info->regular = S_ISREG(st.st_mode);
  info->block = S_ISBLK(st.st_mode);
  info->character = S_ISCHR(st.st_mode);
  info->directory = S_ISDIR(st.st_mode);
  info->fifo = S_ISFIFO(st.st_mode);
  info->dev = static_cast<uint64_t>(st.st_dev);
  info->ino = static_cast<uint64_t>(st.st_ino);
  if (info->block) {
    // st_size is 0 for block devices, so the size is asked of the device,
    // never with lseek(fd, 0, SEEK_END): fd is the caller's descriptor (raw
    // mmap) or a dup() of it (map(fd)), and the two "share file offset and
    // file status flags" (dup(2)), so a seek would leave the caller's next
    // read() at the end.
    if (SysErr e = sys::BlockDeviceSize(fd, &info->size)) return e;
  }
  return Ok();
}

SysErr Truncate(int fd, int64_t size) { return sys::Resize(fd, size); }

SysErr Reserve(int fd, int64_t old_size, int64_t new_size) {
  if (new_size <= old_size) return Ok();
  // The file system reserves the blocks where it can (the Go linker's
  // fallocate, macOS's F_PREALLOCATE); where it cannot, the file still gets
  // its size, only unreserved.
  SysErr e = sys::Preallocate(fd, old_size, new_size);
  return e.err == ENOTSUP ? Truncate(fd, new_size) : e;
}

void Close(int fd) {
  if (fd >= 0) close(fd);  // not retried on EINTR: the fd is gone either way
}

void Unlink(const std::string& path) { unlink(path.c_str()); }

bool FileSizeIfSame(int fd, uint64_t dev, uint64_t ino, int64_t* size) {
  struct stat st;
  if (fd < 0 || sys::Fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (static_cast<uint64_t>(st.st_dev) != dev || static_cast<uint64_t>(st.st_ino) != ino) return false;
  *size = static_cast<int64_t>(st.st_size);
  return true;
}

bool FileSystemFull(int fd) {
  struct statvfs fs;
  if (fstatvfs(fd, &fs) != 0) return false;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < (64u << 10);
}

}  // namespace os
}  // namespace memmap
