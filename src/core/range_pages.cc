// MappedRange's pages: advice and locks within the mapping budget, the
// page ranges calls act on, and Resize (in place, or afresh with the old
// range retired).

#include "range.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace memmap {

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
    // os::LockCopiesPrivatePages); the page-cache pages are locked through a hidden
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

}  // namespace memmap
