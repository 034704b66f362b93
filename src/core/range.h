// One mapped range and the file behind it (src/core/range.cc, range_file.cc,
// range_pages.cc), with no Node-API in it: opening,
// the size rules, map, remap, lock (with its shadow mapping), page ranges,
// the fault guard's slot, quarantine and unmap. Every method that can fail
// returns an Error; the destructor unmaps. What JavaScript can hold of a
// mapping (its handle, slabs, waits, thread-pool work) is a JsMapping
// (src/napi/mapping.h): a Lease (src/core/lease.h) over one MappedRange.
//
// memmap2's MmapInner (src/unix.rs) is the model: the page alignment of the
// offset and the zero-length mapping are handled here, and nowhere else.
//  * mmap(2) wants a page-aligned offset. The file offset asked for is
//    rounded down; `delta` is the distance from the mapped base to the
//    user's first byte, and data() points there.
//  * mmap(2) refuses a length of 0 (EINVAL). A zero-length mapping maps
//    nothing: base() is nullptr, data() too, and every range call on it is
//    a no-op, as memmap2 maps an empty range to a dangling aligned pointer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "budget.h"
#include "guard.h"
#include "../platform/platform.h"

namespace memmap {

// Why a MappedRange said no: the system refused (kSys: `sys` holds the errno
// and the call), or the request was refused before any system call, with
// `message` saying why. The bindings turn each kind into the JavaScript
// error users expect (see ThrowError in src/napi/util.cc).
struct Error {
  enum Kind {
    kNone,
    kSys,        // a system call failed
    kRange,      // a range outside the file or the mapping (RangeError)
    kInvalid,    // a request that cannot be met (ERR_INVALID_ARG_VALUE)
    kTruncated,  // the file shrank under the mapping (ERR_MEMMAP_TRUNCATED)
  };
  Kind kind = kNone;
  SysErr sys;
  std::string message;

  Error() = default;
  Error(const SysErr& e) : kind(e ? kSys : kNone), sys(e) {}  // NOLINT: a system call's result passes through
  static Error Refuse(Kind kind, std::string message) {
    Error e;
    e.kind = kind;
    e.message = std::move(message);
    return e;
  }
  explicit operator bool() const { return kind != kNone; }
};

// What to do when a system call fails for want of mappings, descriptors or
// memory: the addon collects garbage there (dropped mappings are unmapped by
// their finalizers). Set once at load; without it there is no second try.
extern void (*g_on_exhaustion)();

bool IsExhaustion(const SysErr& e);

// Runs `op`; when it fails for want of mappings, descriptors or memory,
// reclaims once (g_on_exhaustion) and tries again.
// Not when reclaiming itself could end the process, or would only be
// repeated in vain (budget::MayReclaim).
template <typename Op>
SysErr WithReclaim(Op op) {
  SysErr e = op();
  if (e && IsExhaustion(e) && g_on_exhaustion && budget::MayReclaim(e)) {
    g_on_exhaustion();
    e = op();
  }
  return e;
}

// What mapFile() asks for.
struct FileRequest {
  std::string path;        // opened (and created, with `size`) when set
  bool have_path = false;
  int fd = -1;             // otherwise this descriptor is duplicated
  int64_t offset = 0;      // in the file, any alignment
  int64_t length = -1;     // -1: to the end of the file
  int64_t size = -1;       // >= 0: grow the file to this size first (kWrite only)
  int mode = 0666;         // for a file that is created
  bool lock = false;       // lock the pages in memory once mapped
};

// What a file range that may merge with its neighbours in the kernel keeps
// in the mapping budget (budget::Reserve): a range mapped from a file
// description that other ranges share (map(fd) dups the caller's; the raw
// layer maps it as is) merges with a neighbour mapping the next bytes of
// the same file, and the fault guard replacing part of it then splits the
// merged mapping in three.
constexpr size_t kMergeReserve = 2;

// The hint of MappedRange::LostWrites's system errors.
extern const char kLostPagesHint[];

class MappedRange {
 public:
  MappedRange() = default;
  ~MappedRange() { Unmap(); }
  MappedRange(const MappedRange&) = delete;
  MappedRange& operator=(const MappedRange&) = delete;

  // What the mapping will be, and whom the fault guard wakes after a fault
  // in it. Called once, before any Map*.
  void Configure(Access access, const MapOptions& opts, guard::Notify wake, void* wake_arg);

  // Opens a file (or duplicates a descriptor), applies the size rules and
  // maps the range. On failure the file is as it was found: a file created
  // here is removed, one grown here is cut back.
  Error MapFile(const FileRequest& req);
  // Anonymous memory; a shared one gets a descriptor (memfd), so that it
  // can be shared with other threads and processes.
  Error MapAnonymous(size_t length, bool lock);
  // The whole of a shared-memory object, through `fd`, which it takes.
  Error MapSharedFd(int fd);
  // Takes a range mapped elsewhere (the raw layer's mmap()). `reserved`:
  // what the raw layer reserved in the mapping budget for it (see
  // kMergeReserve), given back with the range.
  Error Adopt(void* base, size_t length, size_t reserved = 0);

  // Grows or shrinks the range to `new_length` bytes, growing the file
  // first when the mapping writes to it. `held`: something outside may
  // still use the current addresses, so they must not be reused. Then the
  // range grows in place if it can; otherwise it is mapped afresh (a
  // private mapping's own pages copied over) and the old range moves into
  // `*retired`, quarantined, to be given back by its destructor.
  Error Resize(size_t new_length, bool held, MappedRange* retired);

  // Advice (os::Advise) over [addr, addr + len), a page range of this
  // mapping, within the mapping budget.
  Error Advise(uint8_t* addr, size_t len, int advice);
  // Asks the budget (src/core/budget.h) for what a call over [addr, addr + len)
  // may split, before the call named `syscall` (the raw layer's page calls).
  SysErr TakeSplits(const uint8_t* addr, size_t len, const char* syscall) const;
  // Locks or unlocks [addr, addr + len), a page range of this mapping. A
  // private file mapping is locked through a hidden read-only shared
  // mapping of the same range (locking the private one would copy every
  // page); it is made on the first lock.
  Error Lock(uint8_t* addr, size_t len, bool lock);

  // [offset, offset + length) in the user's coordinates, checked against
  // the mapping and widened to whole pages. Empty (nullptr, 0) when there
  // is nothing mapped or length is 0.
  Error PageRange(int64_t offset, int64_t length, uint8_t** addr, size_t* len) const;

  // Replaces the range with inert anonymous memory at the same addresses,
  // and lets the file go. False when it could not (the mapping stays).
  bool Quarantine();
  // Gives everything back: the range, the shadow, the guard slot, the file.
  void Unmap();
  // Forgets everything without giving any of it back, for good: for a range
  // that something this process cannot track may still use (see Lease::~Lease in
  // src/core/lease.cc). The destructor then has nothing to unmap.
  void Abandon();

  // Pages the fault guard replaced with zeros, and the first of them.
  uint32_t Faults(uintptr_t* first_page = nullptr) const;
  // The user offset from which bytes are gone, after faults at
  // `first_page`: the file's new end, or the first faulting page.
  double GoneFrom(uintptr_t first_page) const;
  // For a "write" mapping with pages the guard replaced (their writes never
  // reach the file): what flush() and unmap() must say. The file shrank
  // under the mapping (ERR_MEMMAP_TRUNCATED), or pages inside it could not
  // be stored: ENOSPC when its file system is full, EIO otherwise, as a
  // system error of `syscall`. Nothing otherwise.
  Error LostWrites(const char* syscall) const;
  // Stops the guard waking this mapping's owner (it is going away).
  void Silence() const;

  // The descriptor, if it still names the file this mapping took (the
  // number is the user's to close, and may since name something else).
  bool StatFd(FileInfo* fi) const;
  bool FdIntact() const;

  Access access() const { return access_; }
  const MapOptions& options() const { return opts_; }
  uint8_t* base() const { return base_; }
  size_t map_len() const { return map_len_; }
  uint8_t* data() const { return base_ ? base_ + delta_ : nullptr; }
  size_t length() const { return length_; }
  int fd() const { return fd_; }
  // The file a synchronous flush makes durable (os::Sync): a "write"
  // mapping's; -1 for the others, whose writes never reach a file.
  int durable_fd() const { return access_ == Access::kWrite ? fd_ : -1; }
  bool mapped() const { return base_ != nullptr; }
  bool guarded() const { return slot_ >= 0; }
  // The raw layer changed the protection of pages of the range (mprotect):
  // the fault guard leaves its faults to the caller from now on.
  void ProtectionChanged();
  // Gives a raw range's guard slot its file, through `fd` (a descriptor of
  // the mapping's own, a dup of the caller's, closed with the range), where
  // the guard must confirm a fault against the file (os::FaultsNeedConfirming).
  void GuardFile(int fd, int64_t offset);
  bool quarantined() const { return quarantined_; }
  bool shared() const { return access_ == Access::kWrite || access_ == Access::kAnonShared; }
  bool anonymous() const { return access_ == Access::kAnonPrivate || access_ == Access::kAnonShared; }

  // Ranges mapped by memmap in this process (retired ones included): the
  // one count, kept by SetBase and Unmap.
  static size_t Live() { return live_.load(); }

 private:
  Error Map(size_t map_len, bool lock);
  SysErr MapFresh(size_t map_len, void** out) const;
  void SetBase(void* base, size_t map_len);
  SysErr CopyOwnPages(void* to, size_t len) const;
  SysErr AddGuard();
  // What an advice, lock or protection over [addr, addr + len) may cost in
  // kernel mappings: one split at each end that is not the range's own.
  size_t SplitCost(const uint8_t* addr, size_t len) const;
  void RemoveGuard();
  void DropLocks();
  void OwnFd(int fd);
  void CloseFd();
  void Unreserve();

  Access access_ = Access::kRead;
  MapOptions opts_;
  guard::Notify wake_ = nullptr;
  void* wake_arg_ = nullptr;
  uint8_t* base_ = nullptr;   // what mmap returned; nullptr when nothing is mapped
  size_t map_len_ = 0;        // what was passed to mmap
  size_t delta_ = 0;          // offset of the user's first byte within base_
  size_t length_ = 0;         // the user's byteLength
  int64_t file_offset_ = 0;   // page-aligned file offset of base_
  int fd_ = -1;               // kept for resize() and lock() of file mappings
  uint64_t fd_dev_ = 0;       // what fd_ was when it was taken (see FdIntact)
  uint64_t fd_ino_ = 0;
  uint8_t* shadow_ = nullptr; // hidden read-only shared mapping for Lock
  int slot_ = -1;             // in the fault guard's table (guard.h)
  bool quarantined_ = false;
  bool lost_ = false;  // quarantined, and the addresses were taken meanwhile (os::QuarantineLost): never unmapped
  size_t reserved_ = 0;  // kept in the mapping budget for merges (kMergeReserve), until the range goes

  static std::atomic<size_t> live_;
};

}  // namespace memmap
