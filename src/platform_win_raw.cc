// The raw layer on Windows (golang.org/x/sys/unix's calls over views):
// not offered yet. MapRaw is ENOTSUP and nothing passes its checks.
#include "platform_win.h"  // first: <uv.h> before <windows.h>

#include "platform.h"

namespace memmap {
namespace os {

SysErr MapRaw(int fd, int64_t offset, size_t length, int prot, int flags, void** out) {
  (void)fd; (void)offset; (void)length; (void)prot; (void)flags; (void)out;
  return Fail(ENOTSUP, "mmap");
}

SysErr SyncRaw(void* addr, size_t length, int flags) {
  (void)flags;
  return Sync(addr, length, false);
}

SysErr Protect(void* addr, size_t length, int prot) {
  (void)addr; (void)length; (void)prot;
  return Fail(ENOTSUP, "mprotect");
}

// The raw layer is not offered on Windows yet (MapRaw is ENOTSUP): nothing
// passes its checks.
bool RawFlagsAllowed(int flags, int prot, const char** why) {
  (void)flags; (void)prot;
  *why = "the raw layer is not available on Windows (ENOTSUP)";
  return false;
}
bool RawAdviceAllowed(int advice) {
  (void)advice;
  return false;
}
bool RawProtAllowed(int prot) {
  (void)prot;
  return false;
}
bool RawIsAnonymous(int flags) {
  (void)flags;
  return false;
}

std::vector<Constant> Constants() { return {}; }

}  // namespace os
}  // namespace memmap
