// MappedRange's file: the size rules of MapFile, and the descriptor it
// keeps (which JavaScript can see, and close).

#include "range.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace memmap {

namespace {

// A file as MapFile found it, so that a failure can put it back.
struct FileSetup {
  const std::string* path = nullptr;
  bool created = false;
  bool grown = false;
  int64_t old_size = 0;
  int fd = -1;

  void Undo() {
    if (fd >= 0 && grown && !created) os::Truncate(fd, old_size);
    if (created) os::Unlink(*path);
    os::Close(fd);
    fd = -1;
  }
};

std::string PastTheEnd(int64_t start, int64_t end, int64_t size) {
  return "The range [" + std::to_string(start) + ", " + std::to_string(end) +
         ") passes the end of the file (" + std::to_string(size) + " bytes)";
}

}  // namespace

// The size rules, in the order mmap(2) would apply them, so that the error
// is the one a user expects: not a file that can be mapped (EISDIR,
// ENODEV); `size` grows a regular file, reserving its blocks (ENOSPC now,
// not SIGBUS later); the range must lie inside a file that has a size.
// A character device (/dev/zero) has none: its length must be given.
Error MappedRange::MapFile(const FileRequest& req) {
  bool write = access_ == Access::kWrite;
  if (req.size >= 0 && !write) return Error::Refuse(Error::kInvalid, "size requires access \"write\"");
  FileSetup f;
  f.path = &req.path;
  SysErr e;
  if (req.have_path) {
    e = WithReclaim([&] { return os::OpenFile(req.path, write, req.size >= 0, req.mode, &f.fd, &f.created); });
  } else {
    e = WithReclaim([&] { return os::DupFd(req.fd, &f.fd); });
    if (!e && (e = budget::Reserve(kMergeReserve, "mmap"))) os::Close(f.fd);  // the caller's description: see kMergeReserve
    if (!e) reserved_ = kMergeReserve;
  }
  if (e) return e;
  FileInfo fi;
  if ((e = os::Stat(f.fd, &fi))) {
    f.Undo();
    return e;
  }
  f.old_size = fi.size;
  if (fi.directory || !(fi.regular || fi.block || fi.character)) {
    f.Undo();
    return Fail(fi.directory ? EISDIR : ENODEV, "mmap");
  }
  bool sized = fi.regular || fi.block;
  if (req.size > fi.size) {
    if (!fi.regular) {
      f.Undo();
      return Error::Refuse(Error::kInvalid, "size can only grow a regular file");
    }
    f.grown = true;
    if ((e = os::Reserve(f.fd, fi.size, req.size))) {
      f.Undo();
      return e;
    }
    fi.size = req.size;
  }
  int64_t length = req.length;
  if (sized) {
    if (req.offset > fi.size) {
      f.Undo();
      return Error::Refuse(Error::kRange, "The offset " + std::to_string(req.offset) +
                                              " is past the end of the file (" + std::to_string(fi.size) + " bytes)");
    }
    if (length < 0) length = fi.size - req.offset;
    if (length > fi.size - req.offset) {
      f.Undo();
      return Error::Refuse(Error::kRange, PastTheEnd(req.offset, req.offset + length, fi.size));
    }
  } else if (length < 0) {
    f.Undo();
    return Error::Refuse(Error::kInvalid, "length is required to map a file that has no size (a device)");
  }
  // mmap(2) takes page-aligned offsets only (MapViewOfFile multiples of the
  // allocation granularity, 64 KiB): map from the boundary before the first
  // byte, and remember how far past it the user's range starts.
  int64_t align = static_cast<int64_t>(os::AllocationGranularity());
  file_offset_ = req.offset & ~(align - 1);
  delta_ = static_cast<size_t>(req.offset - file_offset_);
  length_ = static_cast<size_t>(length);
  OwnFd(f.fd);
  Error err = length_ > 0 ? Map(delta_ + length_, req.lock) : Error();
  if (err) {
    fd_ = -1;  // still f's: Undo closes it, after the range is gone
    Unmap();
    f.Undo();
    length_ = 0;
  }
  return err;
}

// Takes `fd` as the mapping's own descriptor, noting which file it is.
void MappedRange::OwnFd(int fd) {
  fd_ = fd;
  FileInfo fi;
  if (fd >= 0 && !os::Stat(fd, &fi)) {
    fd_dev_ = fi.dev;
    fd_ino_ = fi.ino;
  }
}

// JavaScript sees the number (mapping.fd) and can close it; the number may
// then be reused for another file or a socket, which memmap must never use
// or close.
bool MappedRange::StatFd(FileInfo* fi) const {
  return fd_ >= 0 && !os::Stat(fd_, fi) && fi->dev == fd_dev_ && fi->ino == fd_ino_;
}

bool MappedRange::FdIntact() const {
  FileInfo fi;
  return StatFd(&fi);
}

void MappedRange::CloseFd() {
  if (fd_ < 0) return;
  if (FdIntact()) os::Close(fd_);  // never a number that now names something else
  fd_ = -1;
}

}  // namespace memmap
