// Linux system calls that both Linux builds make the same way: linux.cc's,
// and darwin_paths.cc's (the Linux stand-in for macOS's primitives). Included
// by those two files only.
#pragma once

#include <errno.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform.h"

namespace memmap {
namespace os {
namespace linux_calls {

// fstat(2) as the system call on glibc: glibc 2.33 made fstat a function of
// its own (GLIBC_2.33), which a build meant to run on glibc 2.28 must not
// need (glibc_compat.h). The kernel's struct stat is glibc's on the 64-bit
// Linux ports.
inline int Fstat(int fd, struct stat* st) {
#if defined(__GLIBC__) && defined(SYS_fstat) && defined(__LP64__)
  return static_cast<int>(syscall(SYS_fstat, fd, st));
#else
  return fstat(fd, st);
#endif
}

// A block device's size, asked of the device (BLKGETSIZE64).
inline SysErr BlockDeviceSize(int fd, int64_t* size) {
  uint64_t bytes = 0;
  if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) return Fail(errno, "ioctl");
  *size = static_cast<int64_t>(bytes);
  return Ok();
}

}  // namespace linux_calls
}  // namespace os
}  // namespace memmap
