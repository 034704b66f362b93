// macOS's side of the platform contract is darwin_common.cc, built over the
// few primitives declared here. darwin.cc implements them with macOS's own
// calls; darwin_paths.cc, built on Linux (binding.gyp's
// memmap_darwin_paths), with Linux calls that keep macOS's semantics, so
// that every branch darwin_common.cc takes on a Mac is run and tested on
// Linux too (`npm run test:darwin-paths`).
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>

#include "posix.h"

namespace memmap {
namespace os {
namespace darwin {

// The wait primitive, with ulock's semantics: blocks while the 32-bit word
// at addr holds `value`, for at most timeout_ns (< 0: no timeout). 0 when
// woken, *or when the word differed on entry* (neither os_sync_wait_on_address
// nor __ulock_wait2 tells the two apart), ETIMEDOUT, EINTR, or an errno
// (ENOSYS: the system has no such call). Shared between processes.
int WaitWord(void* addr, uint32_t value, int64_t timeout_ns);
// Wakes one waiter on addr: 0 when one was woken, ENOENT when none waited,
// or an errno. WakeAll wakes every waiter, and says only that.
int WakeOne(void* addr);
int WakeAll(void* addr);
// The names of the calls WaitWord and WakeOne use, for errors.
const char* WaitCall();
const char* WakeCall();

// fstat, ftruncate and the size of a block device, as the system has them.
int Fstat(int fd, struct stat* st);
int Ftruncate(int fd, int64_t size);  // 0, or -1 with errno (shared memory sized twice: EINVAL)
SysErr BlockDeviceSize(int fd, int64_t* size);
// Reserves blocks from the file's end for new_size - old_size more bytes,
// leaving its size as it is (F_PREALLOCATE, F_PEOFPOSMODE): ENOSPC on a full
// disk, ENOTSUP where the file system cannot.
SysErr Preallocate(int fd, int64_t old_size, int64_t new_size);
// F_FULLFSYNC (where a file system refuses it, fsync).
SysErr FullFsync(int fd);
// Read-ahead of [offset, offset + length) (F_RDADVISE), and read-ahead on or
// off for the descriptor (F_RDAHEAD).
SysErr ReadAdvise(int fd, int64_t offset, int64_t length);
SysErr ReadAhead(int fd, bool on);
// What the system must do after msync(MS_INVALIDATE) dropped the cached pages
// of [offset, offset + length): nothing on macOS. (Linux's MS_INVALIDATE
// drops none, so the Linux stand-in drops them itself.)
SysErr AfterInvalidate(int fd, int64_t offset, int64_t length);
// Whether writable and executable memory can be mapped (not on Apple
// Silicon); *why says so where not.
bool WritableExecAllowed(const char** why);
// "darwin", or "darwin-paths" for the Linux stand-in.
const char* SystemName();
// The guard's rules (see platform.h).
int FaultSignals(int* signals, int max);
bool RaisedByAccess(int sig, int si_code);

}  // namespace darwin
}  // namespace os
}  // namespace memmap
