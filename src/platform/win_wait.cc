// Waits on a word on Windows: WaitOnAddress and WakeByAddress (Windows 8+,
// looked up at first use), within one process; no wait on several words.
#include "win.h"  // first: <uv.h> before <windows.h>

#include <algorithm>
#include <cerrno>

#include "platform.h"

namespace memmap {
namespace os {

using namespace win;  // NOLINT: the namespace's files share it (win.h)

namespace {

// WaitOnAddress and friends (Windows 8+).
template <typename F>
F Synch(const char* name) { return Lookup<F>(L"api-ms-win-core-synch-l1-2-0.dll", name); }

}  // namespace

// WaitOnAddress and WakeByAddressAll wait within one process (threads and
// workers), which is what Atomics-style waits on a mapping need there; they
// do not cross processes (docs/backends.md).
SysErr WaitOnAddress(void* addr, int32_t expected, int64_t timeout_ns, int* outcome) {
  using Wait = BOOL(WINAPI*)(volatile VOID*, PVOID, SIZE_T, DWORD);
  static const Wait wait = Synch<Wait>("WaitOnAddress");
  if (!wait) return Fail(ENOTSUP, "futex");
  if (*static_cast<volatile int32_t*>(addr) != expected) {
    *outcome = 1;
    return Ok();
  }
  DWORD ms = timeout_ns < 0 ? INFINITE : static_cast<DWORD>(std::min<int64_t>((timeout_ns + 999999) / 1000000, 0xfffffffe));
  if (wait(addr, &expected, sizeof expected, ms)) {
    *outcome = 0;
    return Ok();
  }
  if (GetLastError() == ERROR_TIMEOUT) {
    *outcome = 2;
    return Ok();
  }
  return FailWin("futex");
}

// Win32's WaitOnAddress compares the word in this process too, so this is
// WaitOnAddress: a view unmapped while a waiter thread sleeps on it is what
// the Windows guard's RecoverFault and the quarantine's reserved addresses
// are for (see Quarantine). Not yet shown safe under that race.
SysErr WaitOnAddressUnread(void* addr, int32_t expected, int64_t timeout_ns, int* outcome) {
  return WaitOnAddress(addr, expected, timeout_ns, outcome);
}

SysErr WakeAddress(void* addr, int32_t count, int* woken) {
  using WakeAll = void(WINAPI*)(PVOID);
  using WakeOne = void(WINAPI*)(PVOID);
  static const WakeAll wake_all = Synch<WakeAll>("WakeByAddressAll");
  static const WakeOne wake_one = Synch<WakeOne>("WakeByAddressSingle");
  if (!wake_all || !wake_one) return Fail(ENOTSUP, "futex");
  // Windows does not say how many it woke: the count asked for is reported.
  if (count == 1) {
    wake_one(addr);
  } else {
    wake_all(addr);
  }
  *woken = count;
  return Ok();
}

SysErr WaitOnAny(const WaitTarget* targets, size_t n, int64_t deadline_ns, int* woken) {
  (void)targets; (void)n; (void)deadline_ns; (void)woken;
  return Fail(ENOSYS, "futex_waitv");
}

}  // namespace os
}  // namespace memmap
