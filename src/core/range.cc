// MappedRange: one mapped range and its file (see src/core/range.h). No Node-API
// here: when it may go is src/core/lease.h, what JavaScript holds of it
// src/napi/.

#include "range.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace memmap {

std::atomic<size_t> MappedRange::live_{0};
void (*g_on_exhaustion)() = nullptr;

bool IsExhaustion(const SysErr& e) {
  return e.err == ENOMEM || e.err == EMFILE || e.err == ENFILE || e.err == EAGAIN;
}

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

void MappedRange::Configure(Access access, const MapOptions& opts, guard::Notify wake, void* wake_arg) {
  access_ = access;
  opts_ = opts;
  wake_ = wake;
  wake_arg_ = wake_arg;
}

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

void MappedRange::ProtectionChanged() { guard::SetUserProtected(slot_); }

void MappedRange::GuardFile(int fd, int64_t offset) {
  OwnFd(fd);
  file_offset_ = offset;
  guard::SetFile(slot_, fd_, fd_dev_, fd_ino_, file_offset_);
}

Error MappedRange::MapAnonymous(size_t length, bool lock) {
  length_ = length;
  if (access_ == Access::kAnonShared) {
    // A descriptor behind it, so that share() and child processes can map it.
    int fd = -1;
    SysErr e = WithReclaim([&] { return os::SharedMemoryCreate(length, &fd); });
    if (e) return e;
    OwnFd(fd);
  }
  return length_ > 0 ? Map(length_, lock) : Error();
}

Error MappedRange::MapSharedFd(int fd) {
  OwnFd(fd);
  FileInfo fi;
  SysErr e = os::Stat(fd, &fi);
  if (e) return e;
  length_ = static_cast<size_t>(fi.size);
  return length_ > 0 ? Map(length_, false) : Error();
}

Error MappedRange::Adopt(void* base, size_t length, size_t reserved) {
  length_ = length;
  reserved_ = reserved;
  SetBase(base, length);
  return AddGuard();
}

// Maps [file_offset_, + map_len) afresh, guards it, and locks it if asked.
// On failure the caller unmaps what was made.
Error MappedRange::Map(size_t map_len, bool lock) {
  void* base = nullptr;
  SysErr e = WithReclaim([&] {
    SysErr refused = budget::Take(1, "mmap", 1);
    return refused ? refused : MapFresh(map_len, &base);
  });
  if (e) return e;
  SetBase(base, map_len);
  if ((e = AddGuard())) return e;
  return lock ? Lock(base_, map_len_, true) : Error();
}

// A new range of this mapping's kind: of its file (a shared anonymous
// mapping's file is its memfd), or anonymous.
SysErr MappedRange::MapFresh(size_t map_len, void** out) const {
  if (fd_ >= 0) return os::MapFile(shared() ? Access::kWrite : access_, fd_, file_offset_, map_len, opts_, out);
  return os::MapAnonymous(access_, map_len, opts_, out);
}

// The one place the process-wide count of ranges changes, besides Unmap.
void MappedRange::SetBase(void* base, size_t map_len) {
  if (!base_ && base) live_++;
  if (base_ && !base) live_--;
  base_ = static_cast<uint8_t*>(base);
  map_len_ = base ? map_len : 0;
}

SysErr MappedRange::AddGuard() {
  if (!base_ || slot_ >= 0) return Ok();
  slot_ = guard::Add(base_, map_len_, wake_, wake_arg_);
  if (slot_ < 0) return Fail(ENOMEM, "mmap");  // the guard's table is full
  // The file behind it, so that the guard can tell where its end is now.
  if (fd_ >= 0 && access_ != Access::kRaw) guard::SetFile(slot_, fd_, fd_dev_, fd_ino_, file_offset_);
  return Ok();
}

size_t MappedRange::SplitCost(const uint8_t* addr, size_t len) const {
  size_t page = os::PageSize();
  const uint8_t* end = base_ + ((map_len_ + page - 1) & ~(page - 1));
  return (addr > base_ ? 1 : 0) + (addr + len < end ? 1 : 0);
}

SysErr MappedRange::TakeSplits(const uint8_t* addr, size_t len, const char* syscall) const {
  // Over part of the range: its ends that are not the range's own split it.
  // Over all of it: nothing, unless the kernel merged the range with a
  // neighbour, which it then splits off again (counted as maybe).
  size_t cost = SplitCost(addr, len);
  return cost > 0 ? budget::Take(cost, syscall) : budget::Take(2, syscall, 0, true);
}

Error MappedRange::Advise(uint8_t* addr, size_t len, int advice) {
  if (len == 0) return Error();
  if (os::AdviceSplits(advice)) {
    if (SysErr e = TakeSplits(addr, len, "madvise")) return e;
  }
  return os::Advise(addr, len, advice);
}

void MappedRange::RemoveGuard() {
  if (slot_ < 0) return;
  guard::Remove(slot_);
  slot_ = -1;
}

Error MappedRange::Resize(size_t new_length, bool held, MappedRange* retired) {
  if (Faults() > 0) {
    // The guard put zero pages into the range: the kernel cannot move it as
    // one mapping any more (mremap would say EFAULT).
    return Error::Refuse(Error::kTruncated,
                         "The file was truncated (or failed) under this mapping and pages were replaced with zeros: "
                         "it cannot be resized; unmap it and map the file again");
  }
  size_t new_map_len = new_length > 0 ? delta_ + new_length : 0;
  // A fresh range (+1, one more live range while a retired one is held),
  // and the old one quarantined where it is held, which may split a mapping
  // the kernel merged with its neighbours (+2): asked before anything
  // changes.
  if (new_map_len > 0) {
    if (SysErr e = budget::Take(3, "mremap", 1)) return e;
  }
  int64_t grown_from = -1;  // the file's size before this call grew it
  bool device = false;      // a character device (/dev/zero): each mmap of it is new memory
  if (fd_ >= 0) {
    FileInfo fi;
    if (!StatFd(&fi)) return Fail(EBADF, "fstat");  // closed by someone else: nothing to do safely
    int64_t end = file_offset_ + static_cast<int64_t>(delta_ + new_length);
    if (access_ == Access::kAnonShared && end > fi.size && !os::SharedMemoryResizable()) {
      SysErr e = Fail(ENOTSUP, "ftruncate");
      e.hint = "shared memory is sized once on this system, when it is made (POSIX shared memory on macOS, a section "
               "on Windows): it cannot grow; map a new one of the size wanted";
      return e;
    }
    // A character device has no size to pass: mmap takes any length of it,
    // and so does a resize.
    device = fi.character;
    if (end > fi.size && !device) {
      if (!shared() || !fi.regular) {
        return Error::Refuse(Error::kRange,
                             "The new length passes the end of the file (" + std::to_string(fi.size) + " bytes)");
      }
      SysErr e = os::Reserve(fd_, fi.size, end);  // grow the file first, reserving the blocks
      if (e) {
        os::Truncate(fd_, fi.size);
        return e;
      }
      grown_from = fi.size;
    }
  }
  DropLocks();
  // When the current addresses are held, the range must not move away from
  // under them: it grows where it is if it can; otherwise the new range is
  // mapped afresh and the old one is retired. A shared mapping's pages live
  // in the file (or memfd); a private one's own pages (written, or copied
  // on write) are copied over first.
  // Where the system cannot move a mapping (no mremap: Windows), every
  // resize takes that path.
  held = held && base_;
  bool fresh = false;  // mapped afresh: the old range goes (retired if held)
  bool retire = false;
  void* base = nullptr;
  SysErr e;
  if (new_map_len == 0) {
    retire = held;
  } else if (!base_) {
    e = WithReclaim([&] { return MapFresh(new_map_len, &base); });
  } else if (held && os::CanRemap() && new_map_len >= map_len_ && !os::RemapInPlace(base_, map_len_, new_map_len)) {
    base = base_;  // grown in place: everything over it stays valid
  } else if (held || !os::CanRemap()) {
    fresh = true;
    retire = held;
    e = WithReclaim([&] { return MapFresh(new_map_len, &base); });
    if (!e && shared() && device) {
      // A shared mapping of a device is not the device's pages: every
      // mmap(MAP_SHARED) of /dev/zero is a fresh zero-filled object. The
      // bytes move with the mapping.
      memcpy(base, base_, std::min(new_map_len, map_len_));
    } else if (!e && !shared() && (e = CopyOwnPages(base, new_map_len))) {
      os::Unmap(base, new_map_len);
      base = nullptr;
    }
  } else {
    // Out of the guard while the range moves: its old address may be reused.
    guard::Move(slot_, nullptr, 0);
    e = WithReclaim([&] { return os::Remap(base_, map_len_, new_map_len, &base); });
    if (e) guard::Move(slot_, base_, map_len_);
  }
  if (e) {
    if (grown_from >= 0) os::Truncate(fd_, grown_from);  // leave the file as it was
    return e;
  }
  if (retire) {
    // Quarantined memory cannot raise SIGBUS: out of the guard. If it
    // cannot be quarantined, the old mapping stays as it was.
    guard::Move(slot_, nullptr, 0);
    retired->lost_ = os::QuarantineLost(os::Quarantine(base_, map_len_));
    retired->access_ = access_;
    retired->quarantined_ = true;
    retired->base_ = base_;  // the range, and its place in the count, move over
    retired->map_len_ = map_len_;
    base_ = nullptr;
    map_len_ = 0;
    if (!base) RemoveGuard();
  } else if (base_ && (new_map_len == 0 || fresh)) {
    RemoveGuard();
    os::Unmap(base_, map_len_);
    SetBase(nullptr, 0);  // the fresh range, if any, is counted next
  }
  SetBase(base, new_map_len);
  length_ = new_length;
  if (!base_) return Error();
  if (slot_ >= 0) {
    guard::Move(slot_, base_, map_len_);
  } else if ((e = AddGuard())) {
    // Mapped but not guarded: never handed out.
    os::Unmap(base_, map_len_);
    SetBase(nullptr, 0);
    length_ = 0;
    return e;
  }
  return Error();
}

// Copies a private mapping's own pages into `to`, a fresh mapping of the
// same kind (see os::CopyPrivatePages). A fresh file mapping is guarded for
// the copy: the file may have shrunk meanwhile.
SysErr MappedRange::CopyOwnPages(void* to, size_t len) const {
  bool file = fd_ >= 0;
  int slot = -1;
  if (file && (slot = guard::Add(to, len, nullptr, nullptr)) < 0) return Fail(ENOMEM, "mmap");
  // Its file too: where the guard confirms a fault against the file (macOS),
  // a slot without one absorbs nothing.
  if (slot >= 0) guard::SetFile(slot, fd_, fd_dev_, fd_ino_, file_offset_);
  os::CopyPrivatePages(base_, to, std::min(len, map_len_), !file);
  if (slot >= 0) guard::Remove(slot);
  return Ok();
}

// Locks do not survive a resize: they are dropped explicitly, so that the
// result does not depend on how the kernel moves locked ranges.
void MappedRange::DropLocks() {
  if (shadow_) {
    os::Unmap(shadow_, map_len_);
    shadow_ = nullptr;
  } else if (base_ && (access_ == Access::kWrite || anonymous())) {
    os::Unlock(base_, map_len_);
  }
}

Error MappedRange::Lock(uint8_t* addr, size_t len, bool lock) {
  if (len == 0) return Error();
  uint8_t* p = addr;
  if ((access_ == Access::kRead || access_ == Access::kCopy) && os::LockCopiesPrivatePages()) {
    // Locking a private writable range would copy every page (see
    // platform_posix.cc); the page-cache pages are locked through a hidden
    // read-only shared mapping of the same range instead.
    if (!shadow_) {
      if (!lock) return Error();
      if (!FdIntact()) return Fail(EBADF, "fstat");
      void* shadow = nullptr;
      SysErr e = budget::Take(1, "mmap");
      if (!e) e = os::MapShadow(fd_, file_offset_, map_len_, &shadow);
      if (e) return e;
      shadow_ = static_cast<uint8_t*>(shadow);
    }
    p = shadow_ + (addr - base_);
  }
  if (SysErr e = TakeSplits(addr, len, lock ? "mlock" : "munlock")) return e;
  return lock ? os::Lock(p, len) : os::Unlock(p, len);
}

Error MappedRange::PageRange(int64_t offset, int64_t length, uint8_t** addr, size_t* len) const {
  if (offset < 0 || length < 0 || static_cast<uint64_t>(offset) > length_ ||
      static_cast<uint64_t>(length) > length_ - static_cast<uint64_t>(offset)) {
    return Error::Refuse(Error::kRange, "The range is outside the mapping");
  }
  *addr = nullptr;
  *len = 0;
  if (!base_ || length == 0) return Error();
  size_t page = os::PageSize();
  uintptr_t start = reinterpret_cast<uintptr_t>(data()) + static_cast<uintptr_t>(offset);
  uintptr_t end = start + static_cast<uintptr_t>(length);
  uintptr_t aligned = start & ~(page - 1);
  *addr = reinterpret_cast<uint8_t*>(aligned);
  *len = end - aligned;
  return Error();
}

bool MappedRange::Quarantine() {
  if (quarantined_ || !base_) return false;
  // Replacing a range the kernel merged with its neighbours splits that
  // mapping: where the budget has no room, the range stays as it is (still
  // guarded, the file still open) until it is unmapped.
  if (budget::Take(2, "mmap", 0, true)) return false;
  SysErr e = os::Quarantine(base_, map_len_);
  if (e && !os::QuarantineLost(e)) return false;  // cannot: the mapping stays as it is
  lost_ = static_cast<bool>(e);  // gone all the same, and the addresses are not ours now
  quarantined_ = true;
  Unreserve();  // no file behind it now: the guard never replaces part of it
  RemoveGuard();  // anonymous memory cannot raise SIGBUS
  if (shadow_) {
    os::Unmap(shadow_, map_len_);
    shadow_ = nullptr;
  }
  CloseFd();
  return true;
}

void MappedRange::Unmap() {
  RemoveGuard();  // out of the guard's table before the range is given back
  if (shadow_) {  // first: it has the range's length, which SetBase clears
    os::Unmap(shadow_, map_len_);
    shadow_ = nullptr;
  }
  if (base_) {
    if (!lost_) {
      budget::Unmapped();
      os::Unmap(base_, map_len_);
    }
    SetBase(nullptr, 0);
  }
  Unreserve();
  CloseFd();
}

void MappedRange::Unreserve() {
  budget::Unreserve(reserved_);
  reserved_ = 0;
}

void MappedRange::Abandon() {
  base_ = nullptr;  // still counted in Live(): it is still mapped
  map_len_ = 0;
  shadow_ = nullptr;
  slot_ = -1;
  fd_ = -1;
}

uint32_t MappedRange::Faults(uintptr_t* first_page) const { return guard::Faults(slot_, first_page); }

double MappedRange::GoneFrom(uintptr_t first_page) const {
  uintptr_t user = reinterpret_cast<uintptr_t>(base_) + delta_;
  double offset = first_page > user ? static_cast<double>(first_page - user) : 0;
  FileInfo fi;
  if (StatFd(&fi)) {
    int64_t start = fi.size - file_offset_ - static_cast<int64_t>(delta_);
    // The file's new end, unless the guard replaced from further down (a
    // failed page inside the file, or the whole range when it had no room).
    if (start < static_cast<int64_t>(length_)) offset = std::min(offset, static_cast<double>(start > 0 ? start : 0));
  }
  return offset;
}

Error MappedRange::LostWrites(const char* syscall) const {
  uintptr_t first = 0;
  uint32_t pages = access_ == Access::kWrite ? Faults(&first) : 0;
  if (pages == 0) return Error();
  FileInfo fi;
  int64_t first_offset = file_offset_ + static_cast<int64_t>(first - reinterpret_cast<uintptr_t>(base_));
  if (guard::PastEnd(slot_) || !StatFd(&fi) || first < reinterpret_cast<uintptr_t>(base_) || fi.size <= first_offset) {
    return Error::Refuse(Error::kTruncated,
                         "The file was truncated (or failed) under this write mapping: " + std::to_string(pages) +
                             " page(s) past its end were replaced with zeros, and what was written to them is lost");
  }
  SysErr e = Fail(os::FileSystemFull(fd_) ? ENOSPC : EIO, syscall);
  e.hint = kLostPagesHint;
  return e;
}

const char kLostPagesHint[] =
    "pages of this write mapping could not be stored in the file, and the fault guard replaced them with "
    "zeros: what was written to them is lost (mapping.faulted, onFault)";

void MappedRange::Silence() const {
  if (slot_ >= 0) guard::Silence(slot_);
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
