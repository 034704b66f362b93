// Shared memory on every POSIX system: shm_open by name, and an unlinked
// object for systems without memfd (AnonymousSharedMemory, posix.h).
#include "glibc_compat.h"  // first: pins the glibc versions of what follows
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <atomic>
#include <cstdio>

namespace memmap {
namespace os {

namespace sys {
SysErr AnonymousSharedMemory(size_t length, int* fd) {
  char name[64];
  static std::atomic<unsigned> serial{0};
  // Short (macOS takes 31 bytes at most) and unique in the process; unlinked
  // at once, so that only the descriptor names it.
  snprintf(name, sizeof name, "/memmap.%d.%u", static_cast<int>(getpid()), serial.fetch_add(1));
  int f;
  for (;;) {
    f = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f >= 0 || errno != EINTR) break;
  }
  if (f < 0) return Fail(errno, "shm_open");
  shm_unlink(name);
  SysErr e = Truncate(f, static_cast<int64_t>(length));
  if (e) {
    close(f);
    return e;
  }
  *fd = f;
  return Ok();
}
}  // namespace sys

SysErr SharedMemoryOpen(const std::string& name, bool create, bool exclusive, int mode, int64_t size, int* fd,
                        bool* created) {
  (void)size;  // created empty: lib/ sizes it when it maps it
  std::string full = "/" + name;
  *created = false;
  if (full.size() > sys::SharedMemoryNameMax()) {
    SysErr e = Fail(ENAMETOOLONG, "shm_open");
    e.hint = "the name is longer than this system allows for shared memory (macOS: 30 bytes, 31 with the slash)";
    return e;
  }
  int flags = O_RDWR | O_CLOEXEC;
  if (create && exclusive) {
    int f = shm_open(full.c_str(), flags | O_CREAT | O_EXCL, static_cast<mode_t>(mode));
    if (f < 0) return Fail(errno, "shm_open");
    *fd = f;
    *created = true;
    return Ok();
  }
  if (create) {
    int f = shm_open(full.c_str(), flags | O_CREAT | O_EXCL, static_cast<mode_t>(mode));
    if (f >= 0) {
      *fd = f;
      *created = true;
      return Ok();
    }
    if (errno != EEXIST) return Fail(errno, "shm_open");
  }
  int f = shm_open(full.c_str(), flags, 0);
  if (f < 0) return Fail(errno, "shm_open");
  *fd = f;
  return Ok();
}

SysErr SharedMemoryUnlink(const std::string& name) {
  std::string full = "/" + name;
  if (shm_unlink(full.c_str()) != 0) return Fail(errno, "shm_unlink");
  return Ok();
}

}  // namespace os
}  // namespace memmap
