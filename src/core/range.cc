// MappedRange (src/core/range.h): making a range, its guard slot, the
// quarantine and the unmap, and what the guard saw of it. The file side
// (size rules, descriptors) is range_file.cc; advice, locks and resize()
// are range_pages.cc. No Node-API here: when a range may go is the Lease's
// (src/core/lease.h), what JavaScript holds of it src/napi/.

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

void MappedRange::Configure(Access access, const MapOptions& opts, guard::Notify wake, void* wake_arg) {
  access_ = access;
  opts_ = opts;
  wake_ = wake;
  wake_arg_ = wake_arg;
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

void MappedRange::RemoveGuard() {
  if (slot_ < 0) return;
  guard::Remove(slot_);
  slot_ = -1;
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

}  // namespace memmap
