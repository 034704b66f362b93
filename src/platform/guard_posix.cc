// POSIX fault guard: a SIGBUS handler, chained to whatever handler was there.
// (The signals are the platform's: os::FaultSignals. The macOS-paths build
// adds SIGSEGV, since macOS raises SIGBUS for protection faults too.)
//
// Which faults are the guard's, on every POSIX system:
//  * only a signal the kernel raised for an access, by the platform's rule
//    (os::RaisedByAccess: SI_USER is 0 on Linux, 0x10001 on macOS): one sent
//    with kill() or sigqueue() is passed on;
//  * only inside a registered range, and never in one whose protection the
//    raw layer changed (mprotect: those faults are the caller's, as
//    documented; guard::SetUserProtected);
//  * where the platform cannot tell a sent signal from a fault (XNU gives
//    every SIGBUS a fault code and the thread's last fault address), only a
//    page that really lies past the end of its file, or that the file
//    cannot be read at (pread fails), or a write that found the file system
//    full: checked before anything is replaced (os::FaultsNeedConfirming).
// Everything else goes to the previous handler, or takes the default action.
//
// When an access faults inside a registered range (the file behind it was
// truncated, or the disk failed or filled), the handler maps zero-filled
// anonymous memory over what is gone (MAP_FIXED) and returns; the access is
// retried and completes: reads see zeros, writes land in private memory
// (they can be read back, and never reach the file). The slot counts the
// pages replaced and the owner is woken to report them. Any other SIGBUS
// goes to the previous handler, or takes the default action (see Chain).
//
// What is replaced, so that faults never cost the process a kernel mapping
// each (a zero page in the middle of a file mapping splits it in three, and
// the kernel's count of mappings per process is limited: src/core/budget.h):
//  * a page past the file's current end (fstat): everything from that end
//    to the end of the range, in one step. A truncated file costs one
//    mapping more however its pages are touched, scattered or not;
//  * a page inside the file (an I/O error, a full disk under a sparse
//    file): that page alone for the first few such faults of the range
//    (kSinglePages, while the mapping budget has room for the split), so
//    that an isolated bad page hides nothing else; after that, from the
//    faulting page to the end of the range, as a truncation would (Fault's
//    offset/length model losses that way). A range so costs at most
//    2 * kSinglePages + 1 mappings more, however many pages are touched;
//  * where the mapping budget has no room for the split that replacing
//    from a page to the end makes, the whole range, which splits nothing;
//  * if the kernel refuses even that (the process is at its limit, taken
//    by other code), the whole range after giving back one of the guard's
//    spare mappings (see TakeSpare).
//
// What the handler touches, and why that is async-signal-safe:
//  * the slot table (guard_slots.cc): a fixed array of atomics, read with
//    acquire loads; no allocation, no lock (the code it interrupted may hold
//    any lock); the budget's counters (atomics, no /proc);
//  * mmap(2), fstat(2), pread(2) and fstatvfs(3) (a wrapper of the
//    fstatfs system call on Linux and macOS; glibc reads /proc/mounts only
//    on kernels older than 2.6.36): plain system calls (glibc's wrappers take no
//    lock), the same thing JVMs and WebAssembly runtimes do in their fault
//    handlers;
//  * the owner's notify function: uv_async_send, documented by libuv as
//    async-signal-safe;
//  * errno is saved and restored around all of it.
#include "glibc_compat.h"  // first: pins the glibc versions of what follows
#include "../core/budget.h"
#include "../core/guard.h"
#include "../core/guard_slots.h"
#include "platform.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <mutex>

namespace memmap {
namespace guard {
namespace {

// The handler memmap chains to. It changes when JavaScript adds or removes
// a SIGBUS listener (libuv installs its own handler, or puts back SIG_DFL,
// over memmap's: Reassert() takes memmap's place back). Writers fill the
// idle copy and publish it, so the handler never reads a half-written one.
struct Previous {
  struct sigaction sa;
  // libuv's handler for a JavaScript 'SIGBUS' listener: it only queues an
  // event and returns. For a fault raised by an access, returning retries the
  // access forever (a spin at 100% CPU), so such faults take the default
  // action instead; a SIGBUS sent with kill() still reaches the listener.
  bool events_only;
};
// One set a signal the guard takes (os::FaultSignals).
constexpr int kMaxSignals = 2;
struct Taken {
  int sig = 0;
  Previous prev[2];
  std::atomic<int> index{0};
};
Taken g_taken[kMaxSignals];
int g_signals = 0;
std::mutex g_reassert_mutex;
std::once_flag g_once;
bool g_installed = false;
size_t g_page = 0;

Taken* TakenFor(int sig) {
  for (int i = 0; i < g_signals; i++) {
    if (g_taken[i].sig == sig) return &g_taken[i];
  }
  return nullptr;
}

bool FromAccess(int sig, const siginfo_t* info) { return info != nullptr && os::RaisedByAccess(sig, info->si_code); }

void Chain(int sig, siginfo_t* info, void* context) {
  Taken* taken = TakenFor(sig);
  if (taken == nullptr) return;  // not a signal of ours: cannot happen
  const Previous& prev = taken->prev[taken->index.load(std::memory_order_acquire)];
  bool fault = FromAccess(sig, info);
  if (!(fault && prev.events_only)) {
    if (prev.sa.sa_flags & SA_SIGINFO) {
      if (prev.sa.sa_sigaction != nullptr) {
        prev.sa.sa_sigaction(sig, info, context);
        return;
      }
    } else if (prev.sa.sa_handler != SIG_DFL && prev.sa.sa_handler != SIG_IGN) {
      prev.sa.sa_handler(sig);
      return;
    }
  }
  // The default action: put it back and let it happen. A fault re-executes
  // the access when the handler returns; a signal sent with kill() is sent
  // again.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  // Where a sent signal can look like a fault (macOS: see the top of this
  // file), it is raised again in any case: returning would swallow a
  // kill -BUS, and a real fault dies the same way either path.
  if (!fault || os::FaultsNeedConfirming()) raise(sig);
}

bool ZeroFill(uintptr_t from, uintptr_t to) {
  return mmap(reinterpret_cast<void*>(from), to - from, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) != MAP_FAILED;
}

// Spares: a few one-page mappings of the guard's own, made while there is
// room, for a fault that comes when the process is at the kernel's limit
// (other code of the process took the headroom): there the kernel refuses
// even an mmap that splits nothing, but unmapping a spare (a whole mapping
// of its own: shared anonymous memory never merges with a neighbour) makes
// room for one. Made by Replenish, taken by TakeSpare, each exactly once.
constexpr int kSpares = 4;
std::atomic<uintptr_t> g_spares[kSpares];

bool TakeSpare() {
  for (auto& spare : g_spares) {
    uintptr_t p = spare.exchange(0, std::memory_order_acq_rel);
    if (p != 0 && munmap(reinterpret_cast<void*>(p), g_page) == 0) return true;
  }
  return false;
}

// The first address of slot `i`'s range (starting at `start`) past its
// file's end, or 0 where that is not known (no file, or the descriptor no
// longer names it).
uintptr_t FileEnd(int i, uintptr_t start, uintptr_t page_mask) {
  int fd;
  uint64_t dev, ino;
  int64_t offset, size;
  if (!FileOf(i, &fd, &dev, &ino, &offset) || !os::FileSizeIfSame(fd, dev, ino, &size)) return 0;
  if (size <= offset) return start;
  uint64_t bytes = static_cast<uint64_t>(size - offset);
  if (bytes > UINTPTR_MAX - start) return 0;
  return (start + static_cast<uintptr_t>(bytes) + ~page_mask) & page_mask;
}

uint32_t Pages(uintptr_t from, uintptr_t to) {
  return static_cast<uint32_t>(std::min<uintptr_t>((to - from) / g_page, UINT32_MAX));
}

// Where the platform cannot tell a fault from a sent signal (see the top of
// this file): whether the page at `page` of slot `i` (whose range starts at
// `start`) really failed. Past the file's end it did; inside the file, if
// reading the file there fails with EIO, or its file system is full (a
// write that found no room). Only while the slot's descriptor is still its
// file (`file_end` != 0: FileEnd checked it): a descriptor the user closed,
// or one whose number now names something else, confirms nothing, and
// neither does any other error (shared memory, which has no read()).
bool Confirmed(int i, uintptr_t start, uintptr_t page, uintptr_t file_end) {
  if (file_end == 0) return false;  // no file, or not the same one
  if (page >= file_end) return true;
  int fd;
  uint64_t dev, ino;
  int64_t offset;
  if (!FileOf(i, &fd, &dev, &ino, &offset)) return false;
  uint8_t byte;
  ssize_t got = pread(fd, &byte, 1, static_cast<off_t>(offset + static_cast<int64_t>(page - start)));
  if (got == 0 || (got < 0 && errno == EIO)) return true;
  return got > 0 && os::FileSystemFull(fd);
}

// Replaces what is gone around a fault at `addr` in slot `i` (see the top
// of this file). False when nothing could be replaced, or the fault is not
// the guard's to absorb.
bool Absorb(int i, uintptr_t addr) {
  uintptr_t start, end;
  RangeOf(i, &start, &end);
  // The slot may have been given up and taken for another range since Find
  // found it (another thread unmapped and mapped): then it is that range's
  // slot, or none, now.
  for (int tries = 0; tries < 3 && !(start != 0 && addr >= start && addr < end); tries++) {
    if ((i = Find(addr)) < 0) return false;
    RangeOf(i, &start, &end);
  }
  if (start == 0 || addr < start || addr >= end) return false;  // moving (resize): not ours to touch now
  if (UserProtected(i)) return false;  // the raw layer's mprotect: the caller's fault
  uintptr_t mask = ~(static_cast<uintptr_t>(g_page) - 1);
  end = (end + ~mask) & mask;  // the kernel's mapping ends at a page boundary
  uintptr_t page = addr & mask;
  uintptr_t file_end = FileEnd(i, start, mask);
  bool past_end = file_end != 0 && page >= file_end;
  if (os::FaultsNeedConfirming() && !Confirmed(i, start, page, file_end)) return false;
  uintptr_t from = page;
  uintptr_t to = page + g_page;
  if (past_end || !TakeSinglePage(i) || !budget::TakeInHandler(2)) {
    // To the end of the range: one split where it starts, if the budget
    // has room for it; without room, the whole range, which splits nothing.
    from = past_end ? file_end : page;
    to = end;
    if (from != start && !budget::TakeInHandler(1)) from = start;
  }
  if (ZeroFill(from, to)) {
    Record(i, from, Pages(from, to), past_end);
    return true;
  }
  // Refused: the process is at the kernel's limit. The whole range, after
  // giving back a spare where even that is refused.
  do {
    if (ZeroFill(start, end)) {
      Record(i, start, Pages(start, end), past_end);
      return true;
    }
  } while (TakeSpare());
  return false;
}

void Handler(int sig, siginfo_t* info, void* context) {
  int saved = errno;
  if (FromAccess(sig, info)) {
    uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
    int i = Find(addr);
    if (i >= 0 && Absorb(i, addr)) {
      errno = saved;
      return;
    }
  }
  errno = saved;
  Chain(sig, info, context);
}

}  // namespace

// The handler, and the slot table it reads, live in this library: it must
// never be unloaded while the handler is installed. Node unloads an addon
// when the last worker thread that loaded it exits; RTLD_NODELETE keeps it.
static void PinThisLibrary() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&Handler), &info) != 0 && info.dli_fname != nullptr) {
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  }
}

struct sigaction Ours() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = Handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  return sa;
}

bool Install() {
  std::call_once(g_once, [] {
    PinThisLibrary();
    g_page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    int signals[kMaxSignals];
    int n = os::FaultSignals(signals, kMaxSignals);
    // Every set is filled before the first handler is installed: the
    // handler reads them.
    for (int k = 0; k < n; k++) g_taken[k].sig = signals[k];
    g_signals = n;
    struct sigaction sa = Ours();
    g_installed = n > 0;
    for (int k = 0; k < n; k++) g_installed = sigaction(signals[k], &sa, &g_taken[k].prev[0].sa) == 0 && g_installed;
  });
  return g_installed;
}

bool Reassert(bool js_listening) {
  if (!g_installed) return false;
  std::lock_guard<std::mutex> lock(g_reassert_mutex);
  bool ours = true;
  for (int k = 0; k < g_signals; k++) {
    Taken& t = g_taken[k];
    struct sigaction current;
    if (sigaction(t.sig, nullptr, &current) != 0) {
      ours = false;
      continue;
    }
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == Handler) continue;
    // Someone took the signal (libuv, for a JavaScript listener) or gave it
    // back to the default action (libuv, when the last listener went): chain
    // to that from now on, and take the signal back.
    int next = 1 - t.index.load(std::memory_order_relaxed);
    t.prev[next].sa = current;
    bool is_function = (current.sa_flags & SA_SIGINFO) ? current.sa_sigaction != nullptr
                                                       : (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN);
    // JavaScript listens for SIGBUS only (a 'SIGSEGV' listener cannot be
    // told from a runtime's own handler, which must see its faults).
    t.prev[next].events_only = js_listening && t.sig == SIGBUS && is_function;
    t.index.store(next, std::memory_order_release);
    struct sigaction sa = Ours();
    ours = sigaction(t.sig, &sa, nullptr) == 0 && ours;
  }
  return ours;
}

namespace {

// The keeper: a thread that takes the signal back every kKeepMs from
// whoever took it since, for what JavaScript's hooks cannot see: a 'SIGBUS'
// listener added on the main thread when only workers loaded memmap, or a
// runtime (Bun) that installs its handler some time after the listener is
// added. A handler found that way is treated as libuv's (faults never go to
// it: they would retry forever), so an access that faults while another
// handler holds the signal spins for one period at most.
constexpr long kKeepMs = 100;
std::once_flag g_keeper_once;

void Keep(void*) {
  struct timespec period = {0, kKeepMs * 1000000L};
  for (;;) {
    nanosleep(&period, nullptr);
    if (AnySlots()) Reassert(true);
  }
}

void StartKeeper() {
  // Without it, the hooks in lib/ still work.
  std::call_once(g_keeper_once, [] { os::StartThread(Keep, nullptr); });
}

}  // namespace

int Add(void* addr, size_t len, Notify notify, void* arg) {
  if (addr == nullptr || len == 0) return -1;
  StartKeeper();
  return AddSlot(addr, len, notify, arg);
}

void Replenish() {
  if (g_page == 0) return;  // not installed
  for (auto& spare : g_spares) {
    if (spare.load(std::memory_order_acquire) != 0) continue;
    if (budget::Take(1, "mmap")) return;  // no room: later
    void* p = mmap(nullptr, g_page, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    uintptr_t none = 0;
    if (!spare.compare_exchange_strong(none, reinterpret_cast<uintptr_t>(p))) munmap(p, g_page);
  }
}

}  // namespace guard
}  // namespace memmap
