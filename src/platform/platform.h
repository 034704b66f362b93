// The operating-system contract of the addon. Everything that differs between
// platforms lives behind these functions, implemented in this folder:
// the posix*.cc files for what every POSIX system shares (one a concern:
// posix.cc the process and its clock, posix_files.cc, posix_map.cc,
// posix_shm.cc, posix_flags.cc), with linux.cc or darwin.cc (through
// darwin_common.cc) for what only one has (posix.h is the seam between
// them), and the win*.cc files on Windows (win.cc says which holds what;
// win.h is their seam). binding.gyp builds one list of them per OS. No
// other file of the addon tests a platform macro, and none outside the
// guard (guard_posix.cc, guard_win.cc) includes a system header.
//
// Every function returns a SysErr: err == 0 on success, otherwise the
// (positive) errno and the name of the system call that failed, which the
// JavaScript side turns into a Node-style error (code, errno, syscall, path).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace memmap {

struct SysErr {
  int err = 0;
  const char* syscall = nullptr;
  // What the user can do about it, where the errno alone does not say
  // (a static string; lib/ adds it to the message).
  const char* hint = nullptr;
  explicit operator bool() const { return err != 0; }
};

inline SysErr Ok() { return SysErr{}; }
inline SysErr Fail(int err, const char* syscall) { return SysErr{err, syscall}; }

// How the safe API maps memory. The platform decides how each one is made.
enum class Access : int {
  kRead = 0,        // private, writable, never reaches the file
  kWrite = 1,       // shared with the file
  kCopy = 2,        // copy-on-write: private, writable
  kAnonPrivate = 3,
  kAnonShared = 4,
  kRaw = 5,         // made by the raw layer with the caller's prot/flags
};

struct MapOptions {
  bool exec = false;
  bool populate = false;
  bool huge_pages = false;
};

struct FileInfo {
  int64_t size = 0;
  bool regular = false;
  bool block = false;
  bool character = false;
  bool directory = false;
  bool fifo = false;
  uint64_t dev = 0;  // the file's identity: st_dev and st_ino
  uint64_t ino = 0;
};

namespace os {

// Which platform file the addon was built with: "linux", "darwin",
// "darwin-paths" (Linux, taking macOS's branches: binding.gyp's
// memmap_darwin_paths) or "win32".
const char* SystemName();
size_t PageSize();
size_t AllocationGranularity();

// The number lib/ gets as `errno` for a SysErr's err: the value Node's
// util.getSystemErrorMap() knows under its negation (on POSIX the errno
// itself; on Windows libuv's own code).
int ErrnoForJs(int err);
// Whether Remap can move and resize a mapping (mremap). Where it cannot,
// a resize maps afresh and copies (MappedRange::Resize).
bool CanRemap();
// Whether locking a private writable mapping would copy its pages (mlock
// faults them in for writing on Linux), so that MappedRange locks the file's
// pages through a read-only shadow instead. Windows' VirtualLock reads them
// in and copies nothing.
bool LockCopiesPrivatePages();
// Whether fd is a descriptor Node's fs knows (and can pass to a child).
// Windows' shared memory has descriptors of the addon's own: not these.
bool NodeKnowsFd(int fd);

// Files.
SysErr OpenFile(const std::string& path, bool write, bool create, int mode,
                int* fd, bool* created);
SysErr DupFd(int fd, int* out);
SysErr Stat(int fd, FileInfo* info);
// Grows the file from old_size to new_size, reserving the blocks where the
// file system can (so that a full disk is ENOSPC now, not SIGBUS later).
SysErr Reserve(int fd, int64_t old_size, int64_t new_size);
SysErr Truncate(int fd, int64_t size);
void Close(int fd);
void Unlink(const std::string& path);

// Mappings. `offset` is page aligned; `length` > 0.
SysErr MapFile(Access access, int fd, int64_t offset, size_t length,
               const MapOptions& opts, void** out);
SysErr MapAnonymous(Access access, size_t length, const MapOptions& opts,
                    void** out);
// A hidden read-only shared mapping of the same file range, used to lock the
// page-cache pages of private mappings without breaking copy-on-write.
SysErr MapShadow(int fd, int64_t offset, size_t length, void** out);
SysErr MapRaw(int fd, int64_t offset, size_t length, int prot, int flags,
              void** out);
SysErr Unmap(void* addr, size_t length);
// Replaces [addr, addr + length), which must be a mapping of ours, with
// inert memory in one step: anonymous, private, zero-filled pages that
// reserve no swap (MAP_FIXED | MAP_NORESERVE). Late reads see zeros, late
// writes land nowhere that matters, and the address range stays taken.
// Windows cannot do it in one step: its view goes first, and another
// allocator of the process may take the addresses before they are
// reserved again. Then the range is gone and no longer ours: see
// QuarantineLost.
SysErr Quarantine(void* addr, size_t length);
// Whether Quarantine failed that way (EADDRINUSE): the range's owner must
// forget it without ever unmapping it (MappedRange::Quarantine).
inline bool QuarantineLost(SysErr e) { return e.err == EADDRINUSE; }
#ifdef MEMMAP_TEST_HOOKS
// The test build plays that other allocator: the next Quarantine of a view
// finds its addresses taken. False where Quarantine has no such gap
// (POSIX). TakenIntactForTest: whether the memory that took them is still
// there with the bytes it was given (then it is released), and no Unmap
// since was asked for addresses that were not memmap's.
bool TakeNextQuarantineForTest();
bool TakenIntactForTest();
#endif
#ifdef _WIN32
// Whether a fault at addr hit a range of the platform layer's own, now
// closed: a range Quarantine replaced or anonymous memory of ours that was
// being decommitted and committed again (waits for the work under way; a
// page left uncommitted is committed here). The Windows fault guard then
// retries the access (guard_win.cc).
// op is the faulting access (0 read, 1 write).
bool RecoverFault(int op, uintptr_t addr);
#endif
// Moves or resizes a mapping; *out receives the (possibly new) address.
SysErr Remap(void* addr, size_t old_length, size_t new_length, void** out);
// Resizes a mapping where it is, or fails (ENOMEM: no room after it).
SysErr RemapInPlace(void* addr, size_t old_length, size_t new_length);
// Copies into `to` every page of the private mapping `from` that holds the
// process's own bytes (written, or copied on write), over the pages that
// hold the first `length` bytes. Pages still shared with the file or never touched are left alone,
// so `to` (a fresh mapping of the same file range, or fresh anonymous memory
// when `to_zeroed`) ends up with `from`'s contents. Both ranges must be safe
// to touch (guarded against SIGBUS where they map a file).
void CopyPrivatePages(const void* from, void* to, size_t length, bool to_zeroed);

// msync(2) over a range. With fd (>= 0: the file behind it) and !async, the
// writes are then made as durable as Node's own fsync makes them (macOS:
// F_FULLFSYNC).
SysErr Sync(void* addr, size_t length, bool async, int fd = -1);
SysErr SyncRaw(void* addr, size_t length, int flags);
SysErr Advise(void* addr, size_t length, int advice);
SysErr Protect(void* addr, size_t length, int prot);
SysErr Lock(void* addr, size_t length);
SysErr Unlock(void* addr, size_t length);
// One byte per page: 1 when resident.
SysErr Residency(void* addr, size_t length, uint8_t* pages);
// Pages the range in without SIGBUS where the kernel allows it.
SysErr Populate(void* addr, size_t length);
// Populate's last resort: reads one byte a page (the fault guard covers
// the range, so a page past the end of its file reads zeros and counts).
inline void TouchPages(const void* addr, size_t length) {
  volatile const uint8_t* p = static_cast<const uint8_t*>(addr);
  uint8_t sink = 0;
  for (size_t off = 0; off < length; off += PageSize()) sink ^= p[off];
  (void)sink;
}

// Shared memory. An anonymous shared object with a descriptor (memfd on
// Linux), so that other threads and child processes can map it too.
SysErr SharedMemoryCreate(size_t length, int* fd);
// POSIX named shared memory: `name` is given without its leading slash.
// `size` (-1: not given) is what a new object is created with where the
// system needs it at creation (Windows' named sections); POSIX creates it
// empty and the caller sizes it with Truncate.
SysErr SharedMemoryOpen(const std::string& name, bool create, bool exclusive, int mode, int64_t size, int* fd,
                        bool* created);
SysErr SharedMemoryUnlink(const std::string& name);
// Whether shared memory can be resized once sized (not on macOS, where
// POSIX shared memory is sized once, when it is created; not on Windows,
// where a section's size is fixed).
bool SharedMemoryResizable();

// Futex-style wait and wake on a 32-bit word of a shared mapping, across
// processes. `outcome`: 0 woken ("ok"), 1 the value differed ("not-equal"),
// 2 the timeout passed ("timed-out"). timeout_ns < 0: no timeout.
SysErr WaitOnAddress(void* addr, int32_t expected, int64_t timeout_ns, int* outcome);
// The same for a word that may be unmapped while the call runs (a waitAsync()
// thread holds no lock on the mapping while it sleeps): the word is read by
// the kernel only, never by this process, so its going is an error, not a
// fault. Where the kernel cannot say that the word differed (macOS), that is
// reported as woken (0): a caller that looks at the word again, as the
// waiter threads do, needs no more.
SysErr WaitOnAddressUnread(void* addr, int32_t expected, int64_t timeout_ns, int* outcome);
SysErr WakeAddress(void* addr, int32_t count, int* woken);
// Waits until one of `n` words (n <= kMaxWaitTargets) is woken, as
// WaitOnAddress does for one. `deadline_ns` is on MonotonicNs()'s clock (< 0:
// none). Ok with *woken the index of a woken word; EAGAIN when a word no
// longer held its expected value on entry (which one is not said);
// ETIMEDOUT; EINTR; ENOSYS where the system cannot wait on several words at
// once (Linux before 5.16: futex_waitv).
struct WaitTarget {
  const int32_t* addr = nullptr;
  int32_t expected = 0;
};
constexpr size_t kMaxWaitTargets = 128;
SysErr WaitOnAny(const WaitTarget* targets, size_t n, int64_t deadline_ns, int* woken);
// A monotonic clock, in nanoseconds.
int64_t MonotonicNs();
// Sleeps ns nanoseconds (a signal may end it early): what a waiting thread
// does where the wait primitive failed, so that it never spins.
void SleepNs(int64_t ns);
// Starts a detached thread running fn(arg), with asynchronous signals
// blocked (they stay with the threads that run JavaScript).
SysErr StartThread(void (*fn)(void*), void* arg);

// posix_fadvise(2) on an open file: advice about its page cache.
SysErr FileAdvise(int fd, int64_t offset, int64_t length, int advice);
bool FileAdviceByName(const std::string& name, int* advice);
std::vector<std::string> FileAdviceNames();

// Named advice ("normal", "random", ...) to the platform's value; false when
// the name is unknown on this platform.
bool AdviceByName(const std::string& name, int* advice);
// Whether the advice changes how the kernel keeps the range (a flag of the
// mapping: random, hugepage, dontfork...), so that over part of a mapping
// it splits it; advice that only acts on the pages (willneed, dontneed,
// cold...) splits nothing.
bool AdviceSplits(int advice);
std::vector<std::string> AdviceNames();

// Validation for the raw layer: flags and advice that could hand the process
// memory it does not own, or poison it, are refused.
bool RawFlagsAllowed(int flags, int prot, const char** why);
bool RawAdviceAllowed(int advice);
bool RawProtAllowed(int prot);
bool RawIsAnonymous(int flags);

// A table of named values (advice names), and its two uses: the value of a
// name (false when unknown), and every name.
struct NamedValue {
  const char* name;
  int value;
};
template <size_t N>
bool LookupName(const NamedValue (&table)[N], const std::string& name, int* value) {
  for (const auto& a : table) {
    if (name == a.name) {
      *value = a.value;
      return true;
    }
  }
  return false;
}
template <size_t N>
std::vector<std::string> NamesOf(const NamedValue (&table)[N]) {
  std::vector<std::string> names;
  for (const auto& a : table) names.emplace_back(a.name);
  return names;
}

struct Constant {
  const char* name;
  int64_t value;
};
std::vector<Constant> Constants();

// The system's ceiling on mappings per process (vm.max_map_count), or 0
// where there is none to read.
size_t MaxMapCount();
// How many mappings the process has now (the lines of /proc/self/maps), or
// -1 where that cannot be read (no /proc, no descriptor left). Allocates
// nothing: it is called where memory or mappings may have run out.
int64_t CountMappings();
// The size of the regular file open as `fd`, if it is still the file
// (st_dev, st_ino) it was; false otherwise. Async-signal-safe (fstat): the
// fault guard asks it where a file's end now is.
bool FileSizeIfSame(int fd, uint64_t dev, uint64_t ino, int64_t* size);
// Whether the file system that holds `fd` is full (less than 64 KiB left
// to an unprivileged writer): why a write fault inside a file failed.
bool FileSystemFull(int fd);

// The fault guard's rules (guard_posix.cc), which each POSIX system has its
// own way: the signals an access to a mapping can raise (SIGBUS; the
// macOS-paths build adds SIGSEGV, since macOS raises SIGBUS for protection
// faults too); whether a signal with this si_code was raised by the kernel
// for an access (not sent by kill() or sigqueue(): SI_USER is 0 on Linux but
// 0x10001 on macOS); and whether a fault must be confirmed before a page is
// replaced (macOS gives every SIGBUS, even a sent one, a fault code and the
// thread's last fault address: only a page past the end of its file, or one
// the file cannot be read at, is replaced there).
int FaultSignals(int* signals, int max);
bool RaisedByAccess(int sig, int si_code);
bool FaultsNeedConfirming();

// The address of a symbol the host process exports, or nullptr: for the
// engine functions that only some runtimes export (see ForceGc in addon.cc).
void* FindSymbol(const char* name);

}  // namespace os
}  // namespace memmap
