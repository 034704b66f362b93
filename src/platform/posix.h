// The seam between the posix*.cc files, which implement the platform
// contract (platform.h) with what every POSIX system shares (posix.cc the
// process and its clock, posix_files.cc, posix_map.cc, posix_shm.cc,
// posix_flags.cc), and the file of each system: linux.cc, darwin.cc (through
// darwin_common.cc), and darwin_paths.cc, the Linux build that takes macOS's
// branches (binding.gyp's memmap_darwin_paths). The posix*.cc files call
// these; each system's file implements them, and the functions of the
// contract that only it can (waits, shared memory, remapping, file advice,
// the mapping limit). Nothing here tests a platform macro: which file is
// built says which system it is.
#pragma once

#include <sys/stat.h>
#include <time.h>
#include <sys/types.h>

#include "platform.h"

namespace memmap {
namespace os {
namespace sys {

// fstat(2) as the system has it (glibc's wrapper is too new for the oldest
// glibc memmap supports: linux.cc calls the system call).
int Fstat(int fd, struct stat* st);
// The size of the block device open as fd, without moving its offset.
SysErr BlockDeviceSize(int fd, int64_t* size);
// Reserves the file's blocks from old_size to new_size and extends it to
// new_size, or says the file system cannot reserve them (ENOTSUP: the caller
// extends it unreserved). A full disk is ENOSPC here, never a SIGBUS later.
SysErr Preallocate(int fd, int64_t old_size, int64_t new_size);
// Extends a file (ftruncate), as the system allows: shared memory on macOS
// can be sized once.
SysErr Resize(int fd, int64_t size);
// MAP_POPULATE where the system has it, else 0.
int PopulateFlag();
// The mmap flags that mean "shared" (MAP_SHARED, and Linux's
// MAP_SHARED_VALIDATE).
int SharedFlags();
// Whether memory that is both writable and executable can be mapped:
// Apple Silicon refuses it (but through MAP_JIT, whose pages a thread can
// only write after pthread_jit_write_protect_np, which JavaScript cannot
// call). Fills *why when it cannot.
bool WritableExecAllowed(const char** why);
// What makes msync(MS_SYNC)'s writes durable, as Node's own fsync makes
// them: nothing on Linux (msync waits for the device), F_FULLFSYNC on macOS
// (fsync leaves them in the drive's cache there).
SysErr DurableSync(int fd);
// The longest name a POSIX shared memory object may have, slash included
// (31 on macOS).
size_t SharedMemoryNameMax();

// Shared POSIX helpers for the systems' files.
// Copies every page of `from` that differs from `to` (or, `to_zeroed`, that
// is not all zeros): CopyPrivatePages where no page table can be read
// (posix_map.cc).
void CopyDifferingPages(const uint8_t* from, uint8_t* to, size_t first_page, size_t pages, bool to_zeroed);
// Populate where the kernel cannot fault pages in safely: read-ahead, then
// one byte a page (the fault guard covers the range; posix_map.cc).
void PopulateByTouch(void* addr, size_t length);
// A POSIX shared memory object that is unlinked at once (anonymous, with a
// descriptor), of `length` bytes (posix_shm.cc).
SysErr AnonymousSharedMemory(size_t length, int* fd);
// `ns` (>= 0) as a timespec (posix.cc).
struct timespec Timespec(int64_t ns);

}  // namespace sys
}  // namespace os
}  // namespace memmap
