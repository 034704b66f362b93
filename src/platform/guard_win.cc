// Windows fault guard: a vectored exception handler, first in line.
//
// Windows refuses to truncate a file while a view of it exists
// (ERROR_USER_MAPPED_FILE), so the SIGBUS of POSIX has one cause left here:
// an I/O error behind a view (a network share gone, a removable disk
// pulled), raised as EXCEPTION_IN_PAGE_ERROR. Wine lets a Linux process
// truncate the file all the same and raises EXCEPTION_ACCESS_VIOLATION for
// the pages past the end; both are taken, and only inside a registered
// range (every view memmap hands out is writable, so nothing else in it can
// fault).
//
// Windows cannot replace one page of a view: the whole range is replaced
// with zero-filled memory at the same address (os::Quarantine), the fault
// is counted and the owner woken, and the access is retried. Reads of the
// range see zeros from then on, writes land in that memory and never reach
// the file; the mapping reports `faulted`, and flush()/unmap() of a "write"
// mapping throw ERR_MEMMAP_TRUNCATED, as on POSIX. An exception filter runs
// on the faulting thread with no lock held by the guard's table (atomics,
// guard_slots.cc); os::Quarantine and os::RecoverFault take the platform's
// range lock, which no thread holds while it touches mapped memory.
//
// The same handler covers the other Windows-only hazard: replacing a view
// is not atomic there (os::Quarantine), so a thread still writing into a
// range that unmap() quarantines can fault in between; it waits for the
// replacement and retries.
#include "win.h"  // first: <uv.h> before <windows.h>

#include <mutex>

#include "../core/guard.h"
#include "../core/guard_slots.h"

#include <algorithm>
#include <climits>
#include "platform.h"

namespace memmap {
namespace guard {
namespace {

std::once_flag g_once;
bool g_installed = false;

LONG CALLBACK Handler(PEXCEPTION_POINTERS info) {
  const EXCEPTION_RECORD* rec = info->ExceptionRecord;
  DWORD code = rec->ExceptionCode;
  if ((code != EXCEPTION_IN_PAGE_ERROR && code != EXCEPTION_ACCESS_VIOLATION) || rec->NumberParameters < 2) {
    return EXCEPTION_CONTINUE_SEARCH;
  }
  uintptr_t addr = static_cast<uintptr_t>(rec->ExceptionInformation[1]);
  // A read or write that hit a range while os::Quarantine replaced it (the
  // range was unmapped by another thread while this one, say a thread-pool
  // job, still wrote into a view): the replacement is there now, retry.
  ULONG_PTR op = rec->ExceptionInformation[0];
  if (code == EXCEPTION_ACCESS_VIOLATION && (op == 0 || op == 1) && os::RecoverFault(static_cast<int>(op), addr)) {
    return EXCEPTION_CONTINUE_EXECUTION;
  }
  int i = Find(addr);
  if (i < 0) return EXCEPTION_CONTINUE_SEARCH;
  // Every view memmap hands out is readable and writable: a page whose
  // protection forbids the access is the raw layer's mprotect(), whose
  // fault is documented to end the process (0xC0000005, as an unhandled
  // access violation does).
  if (code == EXCEPTION_ACCESS_VIOLATION && os::win::ProtectionForbids(op, addr)) return EXCEPTION_CONTINUE_SEARCH;
  uintptr_t start, end;
  RangeOf(i, &start, &end);
  if (start == 0 || os::Quarantine(reinterpret_cast<void*>(start), end - start)) return EXCEPTION_CONTINUE_SEARCH;
  // The whole view was replaced: every page of it, from its start.
  Record(i, start, static_cast<uint32_t>(std::min<uintptr_t>((end - start + os::PageSize() - 1) / os::PageSize(), UINT32_MAX)), false);
  return EXCEPTION_CONTINUE_EXECUTION;
}

// The handler lives in this DLL: it must stay loaded while it is installed
// (Node unloads an addon when the last thread that loaded it exits).
void PinThisLibrary() {
  HMODULE self = nullptr;
  GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                     reinterpret_cast<LPCWSTR>(reinterpret_cast<void*>(&Handler)), &self);
}

}  // namespace

bool Install() {
  std::call_once(g_once, [] {
    PinThisLibrary();
    g_installed = AddVectoredExceptionHandler(1, Handler) != nullptr;
  });
  return g_installed;
}

// No signal for JavaScript or libuv to take: the handler stays first.
bool Reassert(bool js_listening) {
  (void)js_listening;
  return g_installed;
}

int Add(void* addr, size_t len, Notify notify, void* arg) { return AddSlot(addr, len, notify, arg); }

// Windows replaces whole views, which needs no room: no spares.
void Replenish() {}

}  // namespace guard
}  // namespace memmap
