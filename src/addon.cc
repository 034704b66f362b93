// Node-API glue and the lifetime of mappings.
//
// What must be native lives here: the registry of live mappings, the rules
// that decide when an address range may be given back to the system, the
// finalizers, and the thread-pool work. Argument checking, defaults and error
// shaping are in TypeScript (lib/); this file still refuses anything it is
// handed that it cannot use, with an exception and never an abort.
//
// Lifetime rules (the heart of "no call sequence can crash the process"):
//  * A Region is one mmap'd range. Three things may keep it mapped:
//    its JavaScript handle (until unmap() or GC), every window (an external
//    ArrayBuffer over part of the range) that still holds it, and every
//    piece of thread-pool work that is running on its addresses.
//  * JavaScript reaches the memory only through windows: a few per mapping,
//    made on demand by lib/windows.ts, which cuts every view() out of one.
//    A window is registered once for detaching and for its two finalizers,
//    so the number of native records does not grow with the views.
//  * A window holds the range until its ArrayBuffer object is collected
//    (detached or not: see Holds). Its memory may have been moved to another
//    ArrayBuffer (ArrayBuffer.prototype.transfer(), any transfer list on
//    Deno), which may still read it: then it holds the range until that
//    memory itself is released (the store finalizer). A dead object cannot
//    be asked whether it was moved, so the question is asked while it
//    lives: a window is pinned (a strong reference) while its mapping's
//    handle lives, and checked when the handle goes or at unmap(). A window
//    whose death no check vouches for waits for its memory's release too.
//    See Pin.
//  * unmap() detaches every window first, so JavaScript can never reach the
//    range again. It unmaps at once only if nothing else can reach it. A
//    detached window whose ArrayBuffer was not yet collected may be held by
//    native code (a thread-pool job of Node's crypto, zlib or fs has the
//    pointer): then the range is quarantined, that is replaced at once by
//    inert anonymous memory (the file is let go), and given back when the
//    last window is collected. Work of ours (flush, prefetch) still running
//    on the range keeps the real mapping until it ends.
//  * Garbage collection: the handle and each window carry a finalizer. The
//    range is unmapped when the handle and the last window are gone. It is
//    unmapped once: Release() clears `base` and is the only caller of
//    munmap for safe mappings.
//  * NAPI_EXPERIMENTAL makes Node run these (basic) finalizers synchronously
//    inside the garbage collection, rather than on a later turn of the event
//    loop. Together with a forced collection when the process nears its
//    mapping limit (Reclaim below), a synchronous loop that maps and drops
//    hundreds of thousands of mappings never reaches vm.max_map_count.
#define NAPI_EXPERIMENTAL
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <climits>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <set>
#include <uv.h>

#include "guard.h"
#include "platform.h"
#include "waiter.h"

namespace memmap {
namespace {

struct EnvData;
struct Region;
// How a waitAsync() call ended: by the waiter (woken, timed out, failed),
// by unmap(), or by the collection of its mapping's handle.
enum class WaitEnd { kWaiter, kUnmapped, kCollected };

// One external ArrayBuffer over part of a Region. Lives until both of its
// finalizers ran: the object's (napi_add_finalizer, inside GC) and the
// memory's (the external ArrayBuffer's own, which some runtimes call later,
// or on another thread: see StoreFreed).
// A range that resize() moved a mapping away from while windows over it
// were still alive: quarantined, and given back when the last one goes.
struct Retired {
  uint8_t* base = nullptr;
  size_t len = 0;
  size_t holding = 0;  // windows over it not yet let go
};

struct Window {
  Region* region = nullptr;
  uint64_t checked = 0;        // the collection epoch in which it was last found not moved (see Pin)
  Retired* retired = nullptr;  // set when resize() retired the range it is over
  napi_ref ref = nullptr;      // weak, from napi_add_finalizer
  Window* prev = nullptr;      // in region->windows
  Window* next = nullptr;
  bool holding = true;         // counted in region->holding
  bool object_dead = false;    // the ArrayBuffer object was collected
  bool ref_deleted = false;    // ...and its reference deleted (WindowCleanup)
  bool detached = false;       // detached by unmap() or resize()
  bool store_freed = false;    // the memory's finalizer ran (on this thread's queue)
  bool moved = false;          // found detached by someone else: its memory lives on elsewhere
  bool pinned = false;         // `ref` is strong: the object cannot be collected (see Pin)
  bool vouched = false;        // collected right after a check found it not moved
};

struct Region {
  EnvData* envd = nullptr;
  Access access = Access::kRead;
  MapOptions opts;
  uint8_t* base = nullptr;  // what mmap returned; nullptr when nothing mapped
  size_t map_len = 0;       // what was passed to mmap
  size_t delta = 0;         // offset of the user's first byte within base
  size_t length = 0;        // the user's byteLength
  int64_t file_offset = 0;  // page-aligned file offset of base
  int fd = -1;              // kept for resize() and lock() of file mappings
  uint64_t fd_dev = 0;      // what `fd` was when this Region took it (see FdIntact)
  uint64_t fd_ino = 0;
  uint8_t* shadow = nullptr;  // hidden read-only shared mapping for lock()
  int64_t reported = 0;       // bytes reported to V8 as external memory
  bool handle_alive = false;
  bool closed = false;
  bool quarantined = false;  // base..map_len is inert memory now (see Quarantine)
  int inflight = 0;
  int refs = 0;  // what keeps this struct (not the range) alive
  Window* raw_window = nullptr;  // the one window of a raw mapping
  int slot = -1;             // in the fault guard's table (guard.h)
  uint32_t faults_reported = 0;  // pages counted in the last onFault call
  double fault_offset = -1;      // the gone range's start in that call
  napi_ref on_fault = nullptr;  // JavaScript callback for faults, if any
  uint64_t shared_id = 0;       // in the shared-memory registry (share/attach)
  std::vector<struct AsyncWait*> waits;  // waitAsync() calls pending on this range
  Window* windows = nullptr;  // every window not yet freed (a list)
  size_t holding = 0;         // windows that keep the range mapped
};

struct EnvData {
  uv_async_t* async = nullptr;   // woken by the fault guard
  napi_async_context fault_context = nullptr;
  std::set<Region*> live;        // regions with a guard slot
  napi_ref noop = nullptr;  // a function to probe with: can JavaScript still run?
  napi_env env = nullptr;
  std::map<uintptr_t, Region*> raw;  // raw mappings by base address
  size_t regions = 0;                // Region structs still allocated
  size_t windows = 0;                // Window structs still allocated
  bool dead = false;                 // the environment is being torn down
  // Windows whose memory was released, possibly on another thread (Deno
  // frees ArrayBuffer memory on a background thread): handled on this
  // thread by DrainFreed, woken through `async`.
  std::mutex freed_mutex;
  std::vector<Window*> freed;
  std::atomic<bool> any_freed{false};
  // Regions whose handle was collected with pinned windows (see Pin).
  std::vector<Region*> orphans;
  // Pending waitAsync() calls of this thread, and how they come back.
  std::set<struct AsyncWait*> waits;
  size_t persistent_waits = 0;          // ...of which keep the event loop alive
  uint64_t wait_seq = 0;
  napi_threadsafe_function wait_tsfn = nullptr;
  uint64_t epoch = 1;       // bumped before each round of a forced collection (see Pin)
  bool forcing = false;     // inside a forced collection (ForceGc)
};

std::atomic<size_t> g_live{0};      // ranges mapped by this addon, process-wide
std::atomic<size_t> g_next_gc{0};   // when g_live reaches this, collect first
std::atomic<uint64_t> g_forced_gcs{0};
// Tests set this to act as a runtime that refuses external buffers
// (Electron 21+ returns napi_no_external_buffers_allowed). Only the test
// build (MEMMAP_TEST_HOOKS, binding.gyp's memmap_test) exports the switch.
std::atomic<bool> g_refuse_external{false};
// Set (by lib/backends/native.ts) on Bun, which calls an external
// ArrayBuffer's finalizer when the object its memory was moved *from* dies,
// while the ArrayBuffer it was moved to may still read it: there a window
// found moved is never let go (its range stays quarantined for good).
std::atomic<bool> g_store_follows_object{false};


// Anonymous shared memory handed to other threads by share()/attach(): one
// descriptor per object, kept while any mapping of it (in any thread) lives.
// The handle a thread posts is only the id, so it keeps nothing alive.
struct SharedEntry {
  int fd = -1;
  int refs = 0;
};
std::mutex g_shared_mutex;
std::map<uint64_t, SharedEntry> g_shared;
uint64_t g_next_shared = 1;

void DropShared(uint64_t id) {
  if (id == 0) return;
  std::lock_guard<std::mutex> lock(g_shared_mutex);
  auto it = g_shared.find(id);
  if (it == g_shared.end()) return;
  if (--it->second.refs == 0) {
    os::Close(it->second.fd);
    g_shared.erase(it);
  }
}

size_t MinGcTrigger() {
  static const size_t trigger = [] {
    size_t max = os::MaxMapCount();
    return max >= 4096 ? max / 4 : size_t{8192};
  }();
  return trigger;
}

// ---------------------------------------------------------------------------
// Errors. System failures are thrown as an Error carrying `errno` (positive)
// and `syscall`; lib/errors.ts turns them into Node's fs-style errors.

napi_value MakeSysError(napi_env env, const SysErr& e) {
  napi_value msg, err, num, sys, flag;
  std::string text = std::string(e.syscall ? e.syscall : "?") + " failed: " +
                     strerror(e.err);
  if (napi_create_string_utf8(env, text.c_str(), text.size(), &msg) != napi_ok ||
      napi_create_error(env, nullptr, msg, &err) != napi_ok) {
    return nullptr;
  }
  napi_create_int32(env, e.err, &num);
  napi_set_named_property(env, err, "errno", num);
  napi_create_string_utf8(env, e.syscall ? e.syscall : "", NAPI_AUTO_LENGTH,
                          &sys);
  napi_set_named_property(env, err, "syscall", sys);
  napi_get_boolean(env, true, &flag);
  napi_set_named_property(env, err, "memmapSystemError", flag);
  return err;
}

void ThrowSys(napi_env env, const SysErr& e) {
  napi_value err = MakeSysError(env, e);
  if (err) napi_throw(env, err);
}

void ThrowCode(napi_env env, const char* code, const std::string& msg) {
  napi_throw_error(env, code, msg.c_str());
}

void ThrowRange(napi_env env, const std::string& msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
}

void ThrowType(napi_env env, const std::string& msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg.c_str());
}

// A failed Node-API call: leave a pending exception if there is one,
// otherwise throw one that says which call failed.
void ThrowStatus(napi_env env, napi_status status, const char* what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  std::string msg = std::string("memmap: ") + what + " failed (napi status " +
                    std::to_string(static_cast<int>(status)) + ")";
  napi_throw_error(env, "ERR_MEMMAP_INTERNAL", msg.c_str());
}

#define CHECK_NAPI(env, call)                 \
  do {                                        \
    napi_status status_ = (call);             \
    if (status_ != napi_ok) {                 \
      ThrowStatus((env), status_, #call);     \
      return nullptr;                         \
    }                                         \
  } while (0)

// ---------------------------------------------------------------------------
// Arguments.

struct Args {
  napi_env env;
  static constexpr size_t kMax = 12;
  size_t argc = kMax;
  napi_value argv[kMax];
  bool ok = true;

  Args(napi_env e, napi_callback_info info) : env(e) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) {
      ok = false;
      ThrowStatus(env, napi_generic_failure, "napi_get_cb_info");
    }
  }

  bool Need(size_t n) {
    if (!ok) return false;
    if (argc < n || n > kMax) {
      ThrowType(env, "expected " + std::to_string(n) + " arguments");
      ok = false;
    }
    return ok;
  }

  // An integer argument: a finite number with no fractional part within
  // [min, max]. Anything else is a TypeError/RangeError, never an abort.
  bool Int(size_t i, const char* name, int64_t min, int64_t max,
           int64_t* out) {
    if (!ok) return false;
    napi_valuetype t;
    if (napi_typeof(env, argv[i], &t) != napi_ok || t != napi_number) {
      ThrowType(env, std::string("The \"") + name + "\" argument must be of type number");
      return ok = false;
    }
    double d;
    napi_get_value_double(env, argv[i], &d);
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) ||
        d != static_cast<double>(static_cast<int64_t>(d))) {
      ThrowRange(env, std::string("The value of \"") + name + "\" is out of range.");
      return ok = false;
    }
    *out = static_cast<int64_t>(d);
    return true;
  }

  bool Bool(size_t i, bool* out) {
    if (!ok) return false;
    if (napi_get_value_bool(env, argv[i], out) != napi_ok) {
      ThrowType(env, "expected a boolean");
      return ok = false;
    }
    return true;
  }

  bool String(size_t i, const char* name, std::string* out) {
    if (!ok) return false;
    size_t len = 0;
    if (napi_get_value_string_utf8(env, argv[i], nullptr, 0, &len) != napi_ok) {
      ThrowType(env, std::string("The \"") + name + "\" argument must be of type string");
      return ok = false;
    }
    out->resize(len + 1);
    napi_get_value_string_utf8(env, argv[i], &(*out)[0], len + 1, &len);
    out->resize(len);
    if (out->find('\0') != std::string::npos) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                            (std::string("The \"") + name + "\" argument must not contain null bytes").c_str());
      return ok = false;
    }
    return true;
  }

  bool IsNull(size_t i) {
    napi_valuetype t;
    return napi_typeof(env, argv[i], &t) == napi_ok &&
           (t == napi_null || t == napi_undefined);
  }

  Region* Handle(size_t i) {
    if (!ok) return nullptr;
    napi_valuetype t;
    void* data = nullptr;
    if (napi_typeof(env, argv[i], &t) != napi_ok || t != napi_external ||
        napi_get_value_external(env, argv[i], &data) != napi_ok || !data) {
      ThrowType(env, "expected a memmap handle");
      ok = false;
      return nullptr;
    }
    return static_cast<Region*>(data);
  }
};

// ---------------------------------------------------------------------------
// Lifetime.

EnvData* GetEnvData(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<EnvData*>(data);
}

void FreeEnvData(EnvData* envd) {
  if (envd->dead && envd->regions == 0) delete envd;
}

void Unref(Region* r) {
  if (--r->refs > 0) return;
  EnvData* envd = r->envd;
  envd->regions--;
  delete r;
  FreeEnvData(envd);
}


int64_t ReportedCost(const Region* r) {
  // Anonymous memory is real memory: report all of it, as a Buffer would.
  // File mappings are backed by the page cache, which the kernel can reclaim
  // at will; reporting gigabytes would only make V8 collect without cause.
  // Their scarce resources (mappings, descriptors) are watched by Reclaim().
  int64_t len = static_cast<int64_t>(r->map_len);
  if (r->access == Access::kAnonPrivate || r->access == Access::kAnonShared) {
    return len;
  }
  return std::min<int64_t>(len, 16 << 20) + (64 << 10);
}

void Report(Region* r, int64_t bytes) {
  if (r->envd->dead) return;
  int64_t ignored;
  // Callable from a finalizer: it takes a basic env.
  napi_adjust_external_memory(r->envd->env, bytes - r->reported, &ignored);
  r->reported = bytes;
}

// Takes `fd` as the mapping's own descriptor, noting which file it is.
void OwnFd(Region* r, int fd) {
  r->fd = fd;
  FileInfo fi;
  if (fd >= 0 && !os::Stat(fd, &fi)) {
    r->fd_dev = fi.dev;
    r->fd_ino = fi.ino;
  }
}

// Stats `r->fd` if it still names the file the mapping took. JavaScript sees
// the number (mapping.fd) and can close it; the number may then be reused
// for another file or a socket, which memmap must never use or close.
bool StatOwnFd(const Region* r, FileInfo* fi) {
  return r->fd >= 0 && !os::Stat(r->fd, fi) && fi->dev == r->fd_dev && fi->ino == r->fd_ino;
}

bool FdIntact(const Region* r) {
  FileInfo fi;
  return StatOwnFd(r, &fi);
}

bool CheckFdIntact(napi_env env, const Region* r) {
  if (r->fd < 0 || FdIntact(r)) return true;
  ThrowSys(env, Fail(EBADF, "fstat"));  // closed by someone else: nothing to do safely
  return false;
}

// Gives the range back to the system when nothing can reach it any more.
// Touches no JavaScript: it runs inside garbage collection.
// unmap() ran, but something may still reach the range: a window that was
// detached yet not collected (native code, such as a thread-pool job of
// Node's crypto, zlib or fs, holds the ArrayBuffer while it runs), or memory
// moved to another ArrayBuffer. The file goes at once; the addresses stay
// taken by inert memory until nothing can reach them (Release).
void Quarantine(Region* r) {
  if (r->quarantined || !r->base) return;
  if (os::Quarantine(r->base, r->map_len)) return;  // cannot: keep the mapping as it is
  r->quarantined = true;
  if (r->slot >= 0) {
    // Anonymous memory cannot raise SIGBUS: out of the guard's table.
    guard::Remove(r->slot);
    r->slot = -1;
    r->envd->live.erase(r);
  }
  if (r->shadow) {
    os::Unmap(r->shadow, r->map_len);
    r->shadow = nullptr;
  }
  if (r->fd >= 0) {
    if (FdIntact(r)) os::Close(r->fd);
    r->fd = -1;
  }
  DropShared(r->shared_id);
  r->shared_id = 0;
  Report(r, 0);
}

void Release(Region* r) {
  if (r->handle_alive || r->inflight > 0 || r->holding > 0) {
    // Closed by unmap() and no work of ours still on the range: only
    // stragglers can reach it. Let the file go now.
    if (r->closed && r->inflight == 0) Quarantine(r);
    return;
  }
  if (r->slot >= 0) {
    // Out of the guard's table before the range is given back.
    guard::Remove(r->slot);
    r->slot = -1;
    r->envd->live.erase(r);
  }
  if (r->base) {
    if (r->access == Access::kRaw) {
      r->envd->raw.erase(reinterpret_cast<uintptr_t>(r->base));
    }
    os::Unmap(r->base, r->map_len);
    r->base = nullptr;
    g_live--;
  }
  if (r->shadow) {
    os::Unmap(r->shadow, r->map_len);
    r->shadow = nullptr;
  }
  if (r->fd >= 0) {
    if (FdIntact(r)) os::Close(r->fd);  // never a number that now names something else
    r->fd = -1;
  }
  DropShared(r->shared_id);
  r->shared_id = 0;
  Report(r, 0);
}

void DrainFreed(EnvData* envd);
void CancelWaits(napi_env env, Region* r, WaitEnd end);
// This thread's environment (one per thread: the main thread or a worker).
thread_local EnvData* t_envd = nullptr;

// Pinning. A window is made pinned (its reference strong) unless it is a raw
// mapping's, so that its object outlives its mapping's handle. When the
// handle is collected, its pinned windows wait in `orphans` until this
// thread next runs outside a collection (OnFaultWake, or ForceGc before it
// collects): there each is checked, moved (detached by someone else) or not,
// and let go. The check vouches for the window only if it is collected
// before any JavaScript runs again, which ForceGc arranges (see Holds).
void Unpin(napi_env env, Window* w) {
  if (!w->pinned) return;
  napi_value ab = nullptr;
  bool detached = false;
  if (napi_get_reference_value(env, w->ref, &ab) == napi_ok && ab) {
    napi_is_detached_arraybuffer(env, ab, &detached);
  }
  if (detached && !w->detached) w->moved = true;
  w->checked = w->region->envd->epoch;
  uint32_t count = 0;
  napi_reference_unref(env, w->ref, &count);
  w->pinned = false;
}

// Checks and lets go the pinned windows of collected handles; says whether
// there were any.
bool UnpinOrphans(EnvData* envd) {
  if (envd->orphans.empty()) return false;
  std::vector<Region*> orphans;
  orphans.swap(envd->orphans);
  napi_env env = envd->env;
  napi_handle_scope scope;
  bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
  for (Region* r : orphans) {
    for (Window* w = r->windows; w; w = w->next) Unpin(env, w);
    Unref(r);  // taken by HandleFinalize
  }
  if (scoped) napi_close_handle_scope(env, scope);
  return true;
}

// A full collection, so that the finalizers of dropped mappings run now.
// Node-API has no call for it: V8's Isolate::LowMemoryNotification does it
// where the runtime exports V8's C++ API (Node, and Bun's compatibility
// layer). It is looked up by name rather than linked, because Deno exports
// no V8 symbols: linking it would end a Deno process at the first call
// ("undefined symbol"). Without it, nothing is forced: Deno's own GC runs.
void ForceGc() {
  using GetCurrent = void* (*)();
  using LowMemory = void (*)(void*);  // a member function: `this` comes first
  static const GetCurrent get_current =
      reinterpret_cast<GetCurrent>(os::FindSymbol("_ZN2v87Isolate10GetCurrentEv"));
  static const LowMemory low_memory =
      reinterpret_cast<LowMemory>(os::FindSymbol("_ZN2v87Isolate21LowMemoryNotificationEv"));
  void* isolate = get_current && low_memory ? get_current() : nullptr;
  EnvData* envd = t_envd;
  // Two rounds at most: the first lets go the windows of handles collected
  // before, the second those of handles the first collected.
  for (int round = 0; isolate && round < 2; round++) {
    // A new epoch: a check made before now (JavaScript may have run since)
    // vouches for nothing in this collection.
    if (envd) envd->epoch++;
    bool unpinned = envd && UnpinOrphans(envd);
    if (round > 0 && !unpinned) break;
    g_forced_gcs++;
    if (envd) envd->forcing = true;
    low_memory(isolate);
    if (envd) envd->forcing = false;
  }
  if (envd) DrainFreed(envd);  // windows released during the collection
}

// Before making a mapping: if this process holds many, collect garbage so
// that the finalizers of dropped mappings unmap them (synchronously, see the
// top of this file). The trigger then moves to twice what survived.
void Reclaim() {
  if (t_envd) DrainFreed(t_envd);
  size_t live = g_live.load();
  size_t next = g_next_gc.load();
  if (next == 0) next = MinGcTrigger();
  if (live < next) return;
  ForceGc();
  g_next_gc = std::max(MinGcTrigger(), g_live.load() * 2);
}

bool IsExhaustion(const SysErr& e) {
  return e.err == ENOMEM || e.err == EMFILE || e.err == ENFILE ||
         e.err == EAGAIN;
}

// Runs `op`; when it fails for want of mappings, descriptors or memory,
// collects garbage once and tries again.
template <typename Op>
SysErr WithReclaim(Op op) {
  SysErr e = op();
  if (e && IsExhaustion(e)) {
    ForceGc();
    e = op();
  }
  return e;
}

void DeleteRef(napi_env env, void* data, void*) {
  napi_delete_reference(env, static_cast<napi_ref>(data));
}

void HandleFinalize(node_api_basic_env env, void* data, void*) {
  Region* r = static_cast<Region*>(data);
  if (r->on_fault) {
    // References can only be deleted outside garbage collection.
    node_api_post_finalizer(env, DeleteRef, r->on_fault, nullptr);
    r->on_fault = nullptr;
  }
  r->handle_alive = false;
  CancelWaits(nullptr, r, WaitEnd::kCollected);  // nobody can notify through this mapping any more
  // Pinned windows are checked and let go outside the collection (see Pin).
  for (Window* w = r->windows; w; w = w->next) {
    if (!w->pinned) continue;
    r->refs++;
    r->envd->orphans.push_back(r);
    if (r->envd->async) uv_async_send(r->envd->async);
    break;
  }
  Release(r);
  Unref(r);
}

// A window stops holding its range (see the top of this file).
void LetGo(Window* w) {
  if (!w->holding) return;
  w->holding = false;
  if (Retired* t = w->retired) {
    if (--t->holding == 0) {
      os::Unmap(t->base, t->len);
      g_live--;
      delete t;
    }
    return;
  }
  w->region->holding--;
  Release(w->region);
}

// Whether a window still holds its range. Its ArrayBuffer object, even
// detached, may be held by native code with the pointer (Node's thread pool
// keeps the object of a Buffer it works on): until the object is collected.
// Its memory may live on in another ArrayBuffer where it was moved: until
// the memory is released too. The memory's release alone proves nothing:
// on Node, detaching releases it while a job still has the pointer.
//
// Whether it was moved is known for a window detached by us (unmap(),
// resize(): not moved, and it cannot be moved after), for one found
// detached by a check (moved), and for one collected in a forced collection
// right after a check found it not moved (vouched). Any other death may
// follow a move, so it waits for the memory's release as well; the range
// stays mapped (the moved copy still reads the file) until then.
bool Holds(const Window* w) {
  if (w->moved && g_store_follows_object) return true;  // nothing will tell when the memory goes
  if (!w->object_dead) return true;
  if (w->moved) return !w->store_freed;
  if (w->detached || w->vouched) return false;
  return !w->store_freed;
}

void Update(Window* w) {
  if (w->holding && !Holds(w)) LetGo(w);
}

// Frees the struct once both finalizers have run.
void MaybeFreeWindow(Window* w) {
  if (!w->ref_deleted || !w->store_freed) return;
  Region* r = w->region;
  if (w->prev) w->prev->next = w->next;
  else r->windows = w->next;
  if (w->next) w->next->prev = w->prev;
  if (r->raw_window == w) r->raw_window = nullptr;
  r->envd->windows--;
  delete w;
  Unref(r);
}

// Runs later, outside garbage collection, where references may be deleted.
void WindowCleanup(napi_env env, void* data, void*) {
  Window* w = static_cast<Window*>(data);
  if (w->ref) napi_delete_reference(env, w->ref);
  w->ref = nullptr;
  w->ref_deleted = true;
  MaybeFreeWindow(w);
}

// The ArrayBuffer object was collected (inside GC: no JavaScript here).
void WindowFinalize(node_api_basic_env env, void* data, void*) {
  Window* w = static_cast<Window*>(data);
  w->object_dead = true;
  EnvData* envd = w->region->envd;
  // No JavaScript ran between the check and this collection: it was not moved.
  w->vouched = envd->forcing && !w->moved && w->checked == envd->epoch;
  Update(w);
  if (node_api_post_finalizer(env, WindowCleanup, w, nullptr) != napi_ok) {
    // The environment is going away; the struct is left to the process.
  }
}

// On this thread: the windows whose memory was released.
void DrainFreed(EnvData* envd) {
  if (!envd->any_freed.load(std::memory_order_acquire)) return;
  std::vector<Window*> freed;
  {
    std::lock_guard<std::mutex> lock(envd->freed_mutex);
    freed.swap(envd->freed);
    envd->any_freed = false;
  }
  for (Window* w : freed) {
    w->store_freed = true;
    Update(w);
    MaybeFreeWindow(w);
  }
}

// The external ArrayBuffer's memory was released: by Node on a later turn
// of the event loop, by Bun inside GC, by Deno on a background thread. So
// it only queues the window for this thread and wakes it.
void StoreFreed(node_api_basic_env, void*, void* hint) {
  Window* w = static_cast<Window*>(hint);
  EnvData* envd = w->region->envd;  // the window's region ref keeps both alive
  std::lock_guard<std::mutex> lock(envd->freed_mutex);
  envd->freed.push_back(w);
  envd->any_freed.store(true, std::memory_order_release);
  // Under the lock: CleanupEnv takes `async` away under it before closing it.
  if (envd->async) uv_async_send(envd->async);
}

Region* NewRegion(EnvData* envd, Access access) {
  Region* r = new Region();
  r->envd = envd;
  r->access = access;
  r->refs = 1;  // dropped by the handle finalizer (or by the raw view)
  envd->regions++;
  return r;
}

void WakeEnv(void* arg) { uv_async_send(static_cast<uv_async_t*>(arg)); }

// Registers a mapped range with the fault guard.
SysErr Guard(Region* r) {
  r->slot = guard::Add(r->base, r->map_len, r->envd->async ? WakeEnv : nullptr, r->envd->async);
  if (r->slot < 0) return Fail(ENOMEM, "mmap");  // the guard's table is full
  r->envd->live.insert(r);
  return Ok();
}

// Takes ownership of a fresh mapping. On failure the caller Release()s it.
SysErr Adopt(Region* r, void* base, size_t map_len) {
  r->base = static_cast<uint8_t*>(base);
  r->map_len = map_len;
  if (base) g_live++;
  Report(r, base ? ReportedCost(r) : 0);
  return base ? Guard(r) : Ok();
}

uint32_t FaultCount(const Region* r) { return guard::Faults(r->slot, nullptr); }

// What ERR_MEMMAP_TRUNCATED says, thrown (flush, unmap) or as a rejection (flush()).
std::string TruncatedMessage(uint32_t faults) {
  return "The file was truncated (or failed) under this write mapping: " + std::to_string(faults) +
         " page(s) past its end were replaced with zeros, and what was written to them is lost";
}

void ThrowTruncated(napi_env env, uint32_t faults) {
  ThrowCode(env, "ERR_MEMMAP_TRUNCATED", TruncatedMessage(faults));
}

// A write mapping whose file shrank under it lost what was written to the
// pages past the new end: flush() and unmap() must say so.
bool CheckNotTruncated(napi_env env, Region* r) {
  if (r->access != Access::kWrite || FaultCount(r) == 0) return true;
  ThrowTruncated(env, FaultCount(r));
  return false;
}

// Detaches every window handed out, so no JavaScript can reach the range.
//
// A window already detached when unmap() comes was detached by someone else:
// ArrayBuffer.prototype.transfer() or a transfer list moved its memory to
// another ArrayBuffer, which may still read it. Such a window holds the range
// until that memory is released (the store finalizer). One that this call
// detaches holds it until its object is collected.
void DetachAll(napi_env env, Region* r) {
  for (Window* w = r->windows; w; w = w->next) {
    if (w->object_dead || w->detached) continue;
    napi_value ab = nullptr;
    bool was_detached = false;
    if (w->ref && napi_get_reference_value(env, w->ref, &ab) == napi_ok && ab) {
      napi_is_detached_arraybuffer(env, ab, &was_detached);
      if (!was_detached) napi_detach_arraybuffer(env, ab);
    }
    w->detached = true;
    // Detached, the window still holds the range until its object is
    // collected: native code may hold the ArrayBuffer (and its pointer)
    // while it runs. A moved one holds it until its memory is released.
    if (was_detached) w->moved = true;
    if (w->pinned) {
      uint32_t count = 0;
      napi_reference_unref(env, w->ref, &count);
      w->pinned = false;
    }
  }
}

// An external ArrayBuffer over `length` bytes at `offset` (user
// coordinates), registered as a window of `r`; pinned (see Pin) if `pin`.
napi_value NewWindow(napi_env env, Region* r, size_t offset, size_t length, bool pin) {
  napi_value ab;
  if (length == 0 || !r->base) {
    CHECK_NAPI(env, napi_create_arraybuffer(env, 0, nullptr, &ab));
    return ab;
  }
  uint8_t* p = r->base + r->delta + offset;
  Window* w = new Window();
  w->region = r;
  napi_status created = g_refuse_external ? napi_no_external_buffers_allowed
                                          : napi_create_external_arraybuffer(env, p, length, StoreFreed, w, &ab);
  if (created != napi_ok) {
    delete w;
    if (created == napi_no_external_buffers_allowed) {
      // The JavaScript side degrades this mapping to copies (see lib/backends/native.ts).
      ThrowCode(env, "ERR_MEMMAP_NO_EXTERNAL", "This runtime refuses external buffers");
      return nullptr;
    }
    ThrowStatus(env, created, "napi_create_external_arraybuffer");
    return nullptr;
  }
  // From here the store finalizer will run: the struct must stay until then.
  w->next = r->windows;
  if (r->windows) r->windows->prev = w;
  r->windows = w;
  r->holding++;
  r->refs++;
  r->envd->windows++;
  napi_status s = napi_add_finalizer(env, ab, w, WindowFinalize, nullptr, &w->ref);
  if (s != napi_ok) {
    // Cannot track it: make sure it can never be used.
    napi_detach_arraybuffer(env, ab);
    w->detached = true;
    w->object_dead = true;
    w->ref_deleted = true;
    w->ref = nullptr;
    LetGo(w);
    ThrowStatus(env, s, "napi_add_finalizer");
    return nullptr;
  }
  uint32_t count = 0;
  if (pin && napi_reference_ref(env, w->ref, &count) == napi_ok) w->pinned = true;
  return ab;
}

napi_value NewHandle(napi_env env, Region* r) {
  napi_value h;
  r->handle_alive = true;
  napi_status s = napi_create_external(env, r, HandleFinalize, nullptr, &h);
  if (s != napi_ok) {
    r->handle_alive = false;
    Release(r);
    Unref(r);
    ThrowStatus(env, s, "napi_create_external");
    return nullptr;
  }
  return h;
}

napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// The end of most calls: undefined, or the system error thrown.
napi_value Result(napi_env env, const SysErr& e) {
  if (e) {
    ThrowSys(env, e);
    return nullptr;
  }
  return Undefined(env);
}

bool CheckOpen(napi_env env, Region* r) {
  if (r->closed) {
    ThrowCode(env, "ERR_MEMMAP_CLOSED", "The mapping is closed");
    return false;
  }
  return true;
}

// A range in the user's coordinates, checked and widened to whole pages.
bool PageRange(napi_env env, Region* r, int64_t offset, int64_t length,
               uint8_t** addr, size_t* len) {
  if (offset < 0 || length < 0 || static_cast<uint64_t>(offset) > r->length ||
      static_cast<uint64_t>(length) > r->length - static_cast<uint64_t>(offset)) {
    ThrowRange(env, "The range is outside the mapping");
    return false;
  }
  *addr = nullptr;
  *len = 0;
  if (!r->base || length == 0) return true;
  size_t page = os::PageSize();
  uintptr_t start = reinterpret_cast<uintptr_t>(r->base) + r->delta +
                    static_cast<uintptr_t>(offset);
  uintptr_t end = start + static_cast<uintptr_t>(length);
  uintptr_t a = start & ~(page - 1);
  *addr = reinterpret_cast<uint8_t*>(a);
  *len = end - a;
  return true;
}

// The shape most calls share: (handle, offset, length, ...) on an open
// mapping, the range checked and widened to whole pages.
struct RangeArgs {
  Region* region = nullptr;
  uint8_t* addr = nullptr;
  size_t len = 0;
};

bool ParseRange(Args& a, size_t argc, RangeArgs* out) {
  if (!a.Need(argc)) return false;
  int64_t offset, length;
  out->region = a.Handle(0);
  if (!out->region || !a.Int(1, "offset", 0, (int64_t{1} << 53), &offset) ||
      !a.Int(2, "length", 0, (int64_t{1} << 53), &length)) {
    return false;
  }
  return CheckOpen(a.env, out->region) &&
         PageRange(a.env, out->region, offset, length, &out->addr, &out->len);
}

// ---------------------------------------------------------------------------
// Safe API.

struct FileSetup {
  std::string path;
  bool have_path = false;
  bool created = false;
  bool grown = false;
  int64_t old_size = 0;
  int fd = -1;

  // Puts the file back the way it was found.
  void Undo() {
    if (fd >= 0 && grown && !created) os::Truncate(fd, old_size);
    if (created) os::Unlink(path);
    os::Close(fd);
    fd = -1;
  }
};

// mapFile(path | null, fd, access, offset, length (-1: to the end),
//         size (-1: none), mode, exec, populate, hugePages, lock)
//   => [handle, byteLength]
napi_value MapFileJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(11)) return nullptr;
  FileSetup f;
  int64_t fd_in, access_i, offset, length, size, mode;
  bool exec, populate, huge, lock;
  if (!a.IsNull(0)) {
    if (!a.String(0, "path", &f.path)) return nullptr;
    f.have_path = true;
  }
  if (!a.Int(1, "fd", -1, 0x7fffffff, &fd_in) ||
      !a.Int(2, "access", 0, 2, &access_i) ||
      !a.Int(3, "offset", 0, (int64_t{1} << 53), &offset) ||
      !a.Int(4, "length", -1, (int64_t{1} << 53), &length) ||
      !a.Int(5, "size", -1, (int64_t{1} << 53), &size) ||
      !a.Int(6, "mode", 0, 07777, &mode) || !a.Bool(7, &exec) ||
      !a.Bool(8, &populate) || !a.Bool(9, &huge) || !a.Bool(10, &lock)) {
    return nullptr;
  }
  Access access = static_cast<Access>(access_i);
  bool write = access == Access::kWrite;
  if (size >= 0 && !write) {
    ThrowCode(env, "ERR_INVALID_ARG_VALUE", "size requires access \"write\"");
    return nullptr;
  }
  Reclaim();
  SysErr e;
  if (f.have_path) {
    e = WithReclaim([&] {
      return os::OpenFile(f.path, write, size >= 0, static_cast<int>(mode),
                          &f.fd, &f.created);
    });
  } else {
    if (fd_in < 0) {
      ThrowType(env, "expected a path or a file descriptor");
      return nullptr;
    }
    e = WithReclaim([&] { return os::DupFd(static_cast<int>(fd_in), &f.fd); });
  }
  if (e) {
    ThrowSys(env, e);
    return nullptr;
  }
  FileInfo fi;
  if ((e = os::Stat(f.fd, &fi))) {
    f.Undo();
    ThrowSys(env, e);
    return nullptr;
  }
  f.old_size = fi.size;
  if (fi.directory || !(fi.regular || fi.block || fi.character)) {
    // What mmap(2) would say, before any size logic can say something else.
    f.Undo();
    ThrowSys(env, Fail(fi.directory ? EISDIR : ENODEV, "mmap"));
    return nullptr;
  }
  bool sized = fi.regular || fi.block;
  if (size >= 0 && size > fi.size) {
    if (!fi.regular) {
      f.Undo();
      ThrowCode(env, "ERR_INVALID_ARG_VALUE", "size can only grow a regular file");
      return nullptr;
    }
    f.grown = true;
    if ((e = os::Reserve(f.fd, fi.size, size))) {
      f.Undo();
      ThrowSys(env, e);
      return nullptr;
    }
    fi.size = size;
  }
  if (sized) {
    if (offset > fi.size) {
      f.Undo();
      ThrowRange(env, "The offset " + std::to_string(offset) +
                          " is past the end of the file (" +
                          std::to_string(fi.size) + " bytes)");
      return nullptr;
    }
    if (length < 0) length = fi.size - offset;
    if (length > fi.size - offset) {
      f.Undo();
      ThrowRange(env, "The range [" + std::to_string(offset) + ", " +
                          std::to_string(offset + length) +
                          ") passes the end of the file (" +
                          std::to_string(fi.size) + " bytes)");
      return nullptr;
    }
  } else if (length < 0) {
    f.Undo();
    ThrowCode(env, "ERR_INVALID_ARG_VALUE",
              "length is required to map a file that has no size (a device)");
    return nullptr;
  }

  EnvData* envd = GetEnvData(env);
  Region* r = NewRegion(envd, access);
  r->opts.exec = exec;
  r->opts.populate = populate;
  r->opts.huge_pages = huge;
  size_t page = os::PageSize();
  r->file_offset = offset & ~static_cast<int64_t>(page - 1);
  r->delta = static_cast<size_t>(offset - r->file_offset);
  r->length = static_cast<size_t>(length);
  if (length > 0) {
    void* base = nullptr;
    size_t map_len = r->delta + r->length;
    e = WithReclaim([&] {
      return os::MapFile(access, f.fd, r->file_offset, map_len, r->opts, &base);
    });
    if (!e) e = Adopt(r, base, map_len);
    if (!e && lock) {
      if (write) {
        e = os::Lock(r->base, r->map_len);
      } else {
        void* shadow = nullptr;
        e = os::MapShadow(f.fd, r->file_offset, r->map_len, &shadow);
        if (!e) {
          r->shadow = static_cast<uint8_t*>(shadow);
          e = os::Lock(r->shadow, r->map_len);
        }
      }
    }
    if (e) {
      Release(r);  // unmaps what was mapped; the fd is still f's
      Unref(r);
      f.Undo();
      ThrowSys(env, e);
      return nullptr;
    }
  }
  OwnFd(r, f.fd);
  napi_value h = NewHandle(env, r);
  if (!h) return nullptr;
  napi_value out, len;
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &out));
  CHECK_NAPI(env, napi_create_double(env, static_cast<double>(r->length), &len));
  napi_set_element(env, out, 0, h);
  napi_set_element(env, out, 1, len);
  return out;
}

// mapAnonymous(length, shared, exec, populate, hugePages, lock) => handle
napi_value MapAnonymousJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(6)) return nullptr;
  int64_t length;
  bool shared, exec, populate, huge, lock;
  if (!a.Int(0, "length", 0, (int64_t{1} << 53), &length) ||
      !a.Bool(1, &shared) || !a.Bool(2, &exec) || !a.Bool(3, &populate) ||
      !a.Bool(4, &huge) || !a.Bool(5, &lock)) {
    return nullptr;
  }
  Reclaim();
  Region* r = NewRegion(GetEnvData(env),
                        shared ? Access::kAnonShared : Access::kAnonPrivate);
  r->opts.exec = exec;
  r->opts.populate = populate;
  r->opts.huge_pages = huge;
  r->length = static_cast<size_t>(length);
  SysErr e;
  if (shared) {
    // A descriptor behind it, so that share() and child processes can map it.
    int fd = -1;
    e = WithReclaim([&] { return os::SharedMemoryCreate(r->length, &fd); });
    if (e) {
      Release(r);
      Unref(r);
      ThrowSys(env, e);
      return nullptr;
    }
    OwnFd(r, fd);
  }
  if (length > 0) {
    void* base = nullptr;
    e = WithReclaim([&] {
      return shared ? os::MapFile(Access::kWrite, r->fd, 0, r->length, r->opts, &base)
                    : os::MapAnonymous(r->access, r->length, r->opts, &base);
    });
    if (!e) e = Adopt(r, base, r->length);
    if (!e && lock) e = os::Lock(r->base, r->map_len);
    if (e) {
      Release(r);
      Unref(r);
      ThrowSys(env, e);
      return nullptr;
    }
  }
  return NewHandle(env, r);
}

// window(handle, offset, length) => ArrayBuffer over those bytes; see lib/windows.ts.
napi_value WindowJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(3)) return nullptr;
  Region* r = a.Handle(0);
  int64_t offset, length;
  if (!r || !a.Int(1, "offset", 0, (int64_t{1} << 53), &offset) ||
      !a.Int(2, "length", 0, (int64_t{1} << 53), &length)) {
    return nullptr;
  }
  if (!CheckOpen(env, r)) return nullptr;
  if (static_cast<uint64_t>(offset) > r->length ||
      static_cast<uint64_t>(length) > r->length - static_cast<uint64_t>(offset)) {
    ThrowRange(env, "The window is outside the mapping");
    return nullptr;
  }
  DrainFreed(r->envd);
  return NewWindow(env, r, static_cast<size_t>(offset), static_cast<size_t>(length), true);
}

void ReportFaults(napi_env env, EnvData* envd, Region* r, bool final);

// unmap(handle) => boolean (false when it was already closed)
napi_value UnmapJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(1)) return nullptr;
  Region* r = a.Handle(0);
  if (!r) return nullptr;
  napi_value result;
  if (r->closed) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  r->closed = true;  // first: the callback below must find the mapping closed
  // Faults not yet told (this tick's, or coalesced ones): told now, before
  // the callback is let go.
  if (r->on_fault && r->slot >= 0) ReportFaults(env, GetEnvData(env), r, true);
  DetachAll(env, r);
  CancelWaits(env, r, WaitEnd::kUnmapped);  // rejected now
  if (r->on_fault) {
    napi_delete_reference(env, r->on_fault);
    r->on_fault = nullptr;
  }
  r->handle_alive = false;
  bool truncated = r->access == Access::kWrite && FaultCount(r) > 0;
  uint32_t faults = FaultCount(r);
  Release(r);
  if (truncated) {
    ThrowTruncated(env, faults);  // unmapped all the same; the caller must learn that writes were lost
    return nullptr;
  }
  napi_get_boolean(env, true, &result);
  return result;
}

// msync(handle, offset, length, async): MS_ASYNC when async, else MS_SYNC
napi_value MsyncJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RangeArgs ra;
  bool async;
  if (!ParseRange(a, 4, &ra) || !a.Bool(3, &async)) return nullptr;
  if (!CheckNotTruncated(env, ra.region)) return nullptr;
  if (ra.len > 0) {
    SysErr e = os::Sync(ra.addr, ra.len, async);
    if (e) return Result(env, e);
  }
  return Undefined(env);
}

// Thread-pool work on a range.
enum class WorkKind { kFlush, kPrefetch };

struct Work {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  Region* region = nullptr;
  uint8_t* addr = nullptr;
  size_t len = 0;
  WorkKind kind = WorkKind::kFlush;
  SysErr result;
};

// Whether this thread can still run JavaScript: an experimental Node-API env
// answers napi_cannot_run_js once teardown (worker termination, exit) began.
bool CanRunJs(EnvData* envd) {
  napi_env env = envd->env;
  napi_handle_scope scope;
  bool alive = false;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  napi_value fn, global, result;
  if (envd->noop && napi_get_reference_value(env, envd->noop, &fn) == napi_ok && fn &&
      napi_get_global(env, &global) == napi_ok) {
    alive = napi_call_function(env, global, fn, 0, nullptr, &result) == napi_ok;
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  napi_close_handle_scope(env, scope);
  return alive;
}

void WorkExecute(napi_env, void* data) {
  Work* w = static_cast<Work*>(data);
  if (w->len == 0) return;
  w->result = w->kind == WorkKind::kFlush ? os::Sync(w->addr, w->len, false) : os::Populate(w->addr, w->len);
}

napi_value CodedError(napi_env env, const char* code, const std::string& text) {
  napi_value err = nullptr, msg, c;
  napi_create_string_utf8(env, text.c_str(), text.size(), &msg);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, msg, &err);
  return err ? err : Undefined(env);
}

void WorkComplete(napi_env env, napi_status status, void* data) {
  Work* w = static_cast<Work*>(data);
  Region* r = w->region;
  r->inflight--;
  if (status == napi_ok && !w->result && w->kind == WorkKind::kFlush && r->access == Access::kWrite &&
      FaultCount(r) > 0) {
    napi_reject_deferred(env, w->deferred, CodedError(env, "ERR_MEMMAP_TRUNCATED", TruncatedMessage(FaultCount(r))));
  } else if (status == napi_ok && !w->result) {
    napi_resolve_deferred(env, w->deferred, Undefined(env));
  } else {
    SysErr e = w->result ? w->result : Fail(ECANCELED, w->kind == WorkKind::kFlush ? "msync" : "madvise");
    napi_value err = MakeSysError(env, e);
    napi_reject_deferred(env, w->deferred, err ? err : Undefined(env));
  }
  if (w->work) napi_delete_async_work(env, w->work);
  Release(r);  // unmap() may have been waiting for this work
  Unref(r);
  delete w;
}

napi_value QueueWork(napi_env env, napi_callback_info info, WorkKind kind) {
  Args a(env, info);
  RangeArgs ra;
  if (!ParseRange(a, 3, &ra)) return nullptr;
  Region* r = ra.region;
  if (kind == WorkKind::kFlush && !CheckNotTruncated(env, r)) return nullptr;
  Work* w = new Work();
  w->kind = kind;
  w->region = r;
  w->addr = ra.addr;
  w->len = ra.len;
  napi_value promise, name;
  napi_status s = napi_create_promise(env, &w->deferred, &promise);
  if (s == napi_ok) {
    napi_create_string_utf8(env, kind == WorkKind::kFlush ? "memmap.flush" : "memmap.prefetch",
                            NAPI_AUTO_LENGTH, &name);
    s = napi_create_async_work(env, nullptr, name, WorkExecute, WorkComplete, w,
                               &w->work);
  }
  if (s == napi_ok) s = napi_queue_async_work(env, w->work);
  if (s != napi_ok) {
    if (w->work) napi_delete_async_work(env, w->work);
    delete w;
    ThrowStatus(env, s, "napi_queue_async_work");
    return nullptr;
  }
  r->inflight++;
  r->refs++;
  return promise;
}

napi_value FlushJs(napi_env env, napi_callback_info info) {
  return QueueWork(env, info, WorkKind::kFlush);
}

napi_value PrefetchJs(napi_env env, napi_callback_info info) {
  return QueueWork(env, info, WorkKind::kPrefetch);
}

// ---------------------------------------------------------------------------
// waitAsync(): on the waiter's threads (src/waiter.h), never on the pool.
// Like Atomics.waitAsync, a pending wait does not keep the event loop alive,
// unless it was made `persistent`. It holds the range (inflight) but not the
// handle: unmap() rejects it at once, and the handle's collection ends it
// too ("ok", on a later turn), so nothing waits on a mapping nobody has.
// Ended waits come back to their thread through a thread-safe function.

struct AsyncWait {
  waiter::Wait wait;
  napi_deferred deferred = nullptr;
  Region* region = nullptr;
  bool persistent = false;
  WaitEnd end = WaitEnd::kWaiter;
  uint64_t seq = 0;  // arrival order, for notify()
};

// A wait ended by its mapping's collection resolves "ok", as a spurious
// wake-up: a rejection nobody handles would end the process, and nobody can
// look at the word again anyway.
const char* WaitOutcome(waiter::Outcome o) {
  return o == waiter::Outcome::kTimedOut ? "timed-out" : "ok";
}

// On the wait's own thread: settles its promise and lets the range go.
// `env` is null when the environment is being torn down: nothing settles.
void FinishWait(napi_env env, AsyncWait* aw) {
  Region* r = aw->region;
  EnvData* envd = r->envd;
  envd->waits.erase(aw);
  if (aw->persistent && --envd->persistent_waits == 0 && env && envd->wait_tsfn) {
    napi_unref_threadsafe_function(env, envd->wait_tsfn);
  }
  auto it = std::find(r->waits.begin(), r->waits.end(), aw);
  if (it != r->waits.end()) r->waits.erase(it);
  r->inflight--;
  if (env) {
    napi_handle_scope scope;
    bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
    if (aw->end == WaitEnd::kUnmapped) {
      napi_reject_deferred(env, aw->deferred, CodedError(env, "ERR_MEMMAP_CLOSED", "The mapping was unmapped while waitAsync() waited"));
    } else if (aw->wait.outcome == waiter::Outcome::kFailed) {
      napi_value err = MakeSysError(env, aw->wait.error);
      napi_reject_deferred(env, aw->deferred, err ? err : Undefined(env));
    } else {
      napi_value v;
      napi_create_string_utf8(env, WaitOutcome(aw->wait.outcome), NAPI_AUTO_LENGTH, &v);
      napi_resolve_deferred(env, aw->deferred, v);
    }
    if (scoped) napi_close_handle_scope(env, scope);
  }
  Release(r);
  Unref(r);
  delete aw;
}

void WaitCallJs(napi_env env, napi_value, void*, void* data) {
  FinishWait(env, static_cast<AsyncWait*>(data));
}

// The waiter's `done`, on a waiter thread: back to the wait's own thread.
// The thread-safe function is there: its finalizer cancels every pending
// wait (under the waiter's lock) before it goes.
void WaitDone(waiter::Wait* w) {
  AsyncWait* aw = static_cast<AsyncWait*>(w->owner);
  napi_call_threadsafe_function(aw->region->envd->wait_tsfn, aw, napi_tsfn_nonblocking);
}

// The environment is going: its pending waits end here, unsettled.
void CancelEnvWaits(EnvData* envd) {
  std::vector<AsyncWait*> waits(envd->waits.begin(), envd->waits.end());
  for (AsyncWait* aw : waits) {
    if (waiter::Cancel(&aw->wait)) FinishWait(nullptr, aw);
  }
}

// The runtime destroys the thread-safe function (at the environment's teardown).
void WaitTsfnFinalize(napi_env, void* data, void*) {
  EnvData* envd = static_cast<EnvData*>(data);
  CancelEnvWaits(envd);
  envd->wait_tsfn = nullptr;
}

// Ends the waits of `r` that are still pending: settled now (unmap(), with
// `env`), or on a later turn (the handle's collection, inside GC).
void CancelWaits(napi_env env, Region* r, WaitEnd end) {
  std::vector<AsyncWait*> waits = r->waits;
  for (AsyncWait* aw : waits) {
    if (!waiter::Cancel(&aw->wait)) continue;  // ended already: on its way back
    aw->end = end;
    if (env) {
      FinishWait(env, aw);
    } else {
      napi_call_threadsafe_function(r->envd->wait_tsfn, aw, napi_tsfn_nonblocking);
    }
  }
}

int32_t* WordAt(napi_env env, Args& a, Region** out);

// waitAsync(handle, byteOffset, expected, timeoutMs (-1: none), persistent) => Promise<string>
napi_value WaitAsyncJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(5)) return nullptr;
  Region* r = nullptr;
  int32_t* word = WordAt(env, a, &r);
  int64_t expected, timeout;
  bool persistent;
  if (!word || !a.Int(2, "expected", INT32_MIN, INT32_MAX, &expected) ||
      !a.Int(3, "timeout", -1, (int64_t{1} << 53), &timeout) || !a.Bool(4, &persistent)) {
    return nullptr;
  }
  EnvData* envd = r->envd;
  napi_deferred deferred;
  napi_value promise;
  napi_status s = napi_create_promise(env, &deferred, &promise);
  if (s != napi_ok) {
    ThrowStatus(env, s, "napi_create_promise");
    return nullptr;
  }
  // Settled at once, as Atomics.waitAsync does: the value differs, or no time to wait.
  const char* now = nullptr;
  if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != static_cast<int32_t>(expected)) now = "not-equal";
  else if (timeout == 0) now = "timed-out";
  if (now) {
    napi_value v;
    napi_create_string_utf8(env, now, NAPI_AUTO_LENGTH, &v);
    napi_resolve_deferred(env, deferred, v);
    return promise;
  }
  if (!envd->wait_tsfn) {
    napi_value name;
    napi_create_string_utf8(env, "memmap.waitAsync", NAPI_AUTO_LENGTH, &name);
    s = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, envd, WaitTsfnFinalize, envd, WaitCallJs,
                                        &envd->wait_tsfn);
    if (s == napi_ok) s = napi_unref_threadsafe_function(env, envd->wait_tsfn);
    if (s != napi_ok) {
      envd->wait_tsfn = nullptr;
      napi_reject_deferred(env, deferred, CodedError(env, "ERR_MEMMAP_WAIT", "waitAsync() cannot call back on this runtime"));
      return promise;
    }
  }
  AsyncWait* aw = new AsyncWait();
  aw->seq = ++envd->wait_seq;
  aw->deferred = deferred;
  aw->region = r;
  aw->persistent = persistent;
  aw->wait.word = word;
  aw->wait.expected = static_cast<int32_t>(expected);
  aw->wait.deadline_ns = timeout < 0 ? -1 : os::MonotonicNs() + timeout * 1000000;
  aw->wait.done = WaitDone;
  aw->wait.owner = aw;
  // Before Add: the waiter may end it at once, and its thread then finds it.
  r->inflight++;
  r->refs++;
  r->waits.push_back(aw);
  envd->waits.insert(aw);
  if (persistent && envd->persistent_waits++ == 0) napi_ref_threadsafe_function(env, envd->wait_tsfn);
  SysErr e = waiter::Add(&aw->wait);
  if (e) {
    aw->wait.outcome = waiter::Outcome::kFailed;
    aw->wait.error = e;
    FinishWait(env, aw);
  }
  return promise;
}

// advise(handle, offset, length, name)
napi_value AdviseJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RangeArgs ra;
  std::string name;
  if (!ParseRange(a, 4, &ra) || !a.String(3, "advice", &name)) return nullptr;
  int advice;
  if (!os::AdviceByName(name, &advice)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                          ("Unknown advice \"" + name + "\"").c_str());
    return nullptr;
  }
  if (ra.len > 0) {
    SysErr e = os::Advise(ra.addr, ra.len, advice);
    if (e) return Result(env, e);
  }
  return Undefined(env);
}

// lock(handle, offset, length, lock)
napi_value LockJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RangeArgs ra;
  bool lock;
  if (!ParseRange(a, 4, &ra) || !a.Bool(3, &lock)) return nullptr;
  Region* r = ra.region;
  uint8_t* p = ra.addr;
  size_t n = ra.len;
  if (n == 0) return Undefined(env);
  bool private_file = r->access == Access::kRead || r->access == Access::kCopy;
  SysErr e;
  if (private_file) {
    // Locking a private writable range would copy every page (see
    // platform_posix.cc); lock the page-cache pages through a hidden
    // read-only shared mapping of the same range instead.
    if (!r->shadow) {
      if (!lock) return Undefined(env);
      if (!CheckFdIntact(env, r)) return nullptr;
      void* shadow = nullptr;
      e = os::MapShadow(r->fd, r->file_offset, r->map_len, &shadow);
      if (e) {
        ThrowSys(env, e);
        return nullptr;
      }
      r->shadow = static_cast<uint8_t*>(shadow);
    }
    p = r->shadow + (p - r->base);
  }
  e = lock ? os::Lock(p, n) : os::Unlock(p, n);
  return Result(env, e);
}

// residency(handle, offset, length) => Uint8Array, one byte a page
napi_value ResidencyJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RangeArgs ra;
  if (!ParseRange(a, 3, &ra)) return nullptr;
  uint8_t* p = ra.addr;
  size_t n = ra.len;
  size_t pages = (n + os::PageSize() - 1) / os::PageSize();
  void* data = nullptr;
  napi_value buf;
  CHECK_NAPI(env, napi_create_buffer(env, pages, &data, &buf));
  if (pages > 0) {
    SysErr e = os::Residency(p, n, static_cast<uint8_t*>(data));
    if (e) {
      ThrowSys(env, e);
      return nullptr;
    }
  }
  return buf;
}

// Copies a private mapping's own pages into `to`, a fresh mapping of the
// same kind (see os::CopyPrivatePages). A fresh file mapping is guarded for
// the copy: the file may have shrunk meanwhile.
SysErr CopyOwnPages(Region* r, void* to, size_t len, bool file) {
  int slot = -1;
  if (file && (slot = guard::Add(to, len, nullptr, nullptr)) < 0) return Fail(ENOMEM, "mmap");
  os::CopyPrivatePages(r->base, to, std::min(len, r->map_len), !file);
  if (slot >= 0) guard::Remove(slot);
  return Ok();
}

// resize(handle, newLength). Views handed out before are detached.
napi_value ResizeJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(2)) return nullptr;
  Region* r = a.Handle(0);
  int64_t new_length;
  if (!r || !a.Int(1, "newLength", 0, (int64_t{1} << 53), &new_length)) {
    return nullptr;
  }
  if (!CheckOpen(env, r)) return nullptr;
  if (r->inflight > 0) {
    // Say what is pending: thread-pool work, waits, or both.
    size_t waits = r->waits.size();
    bool work = static_cast<size_t>(r->inflight) > waits;
    std::string what = work && waits ? "a flush() or prefetch() is running and a waitAsync() is pending"
                       : work        ? "a flush() or prefetch() is running"
                                     : "a waitAsync() is pending";
    ThrowCode(env, "ERR_MEMMAP_BUSY", "The mapping cannot be resized while " + what + " on it; await it first");
    return nullptr;
  }
  if (FaultCount(r) > 0) {
    // The guard put zero pages into the range: the kernel cannot move it as
    // one mapping any more (mremap would say EFAULT).
    ThrowCode(env, "ERR_MEMMAP_TRUNCATED",
              "The file was truncated (or failed) under this mapping and pages were replaced with zeros: "
              "it cannot be resized; unmap it and map the file again");
    return nullptr;
  }
  bool file = r->fd >= 0;
  int64_t grown_from = -1;  // the file's size before this call grew it
  SysErr e;
  if (file) {
    FileInfo fi;
    if (!StatOwnFd(r, &fi)) {
      ThrowSys(env, Fail(EBADF, "fstat"));  // closed by someone else: nothing to do safely
      return nullptr;
    }
    int64_t end = r->file_offset + static_cast<int64_t>(r->delta) + new_length;
    // A character device (/dev/zero) has no size to pass: mmap takes any
    // length of it, and so does a resize.
    if (end > fi.size && !fi.character) {
      if ((r->access != Access::kWrite && r->access != Access::kAnonShared) || !fi.regular) {
        ThrowRange(env, "The new length passes the end of the file (" +
                            std::to_string(fi.size) + " bytes)");
        return nullptr;
      }
      // Grow the file first, reserving the blocks.
      if ((e = os::Reserve(r->fd, fi.size, end))) {
        os::Truncate(r->fd, fi.size);
        ThrowSys(env, e);
        return nullptr;
      }
      grown_from = fi.size;
    }
  }
  // Locks do not survive a resize: drop them explicitly so that the result
  // does not depend on how the kernel moves locked ranges.
  if (r->shadow) {
    os::Unmap(r->shadow, r->map_len);
    r->shadow = nullptr;
  } else if (r->base && (r->access == Access::kWrite ||
                         r->access == Access::kAnonPrivate ||
                         r->access == Access::kAnonShared)) {
    os::Unlock(r->base, r->map_len);
  }
  size_t new_map_len = new_length > 0 ? r->delta + static_cast<size_t>(new_length) : 0;
  // Windows over the current range may still be held by native code (a
  // thread-pool job with the pointer, memory moved by transfer()): then the
  // range must not move away under them. It grows where it is if it can.
  // Otherwise the new range is mapped afresh and the old one is retired:
  // quarantined, and given back when its last window is collected. A shared
  // mapping's pages live in the file (or memfd); a private one's own pages
  // (written, or copied on write) are copied over first.
  bool shared = r->access == Access::kWrite || r->access == Access::kAnonShared;
  bool held = r->base && r->holding > 0;
  bool retire = false;
  void* base = nullptr;
  if (new_map_len == 0) {
    retire = held;
  } else if (!r->base) {
    e = WithReclaim([&] {
      return file ? os::MapFile(shared ? Access::kWrite : r->access, r->fd, r->file_offset, new_map_len, r->opts, &base)
                  : os::MapAnonymous(r->access, new_map_len, r->opts, &base);
    });
  } else if (held && new_map_len >= r->map_len && !os::RemapInPlace(r->base, r->map_len, new_map_len)) {
    base = r->base;  // grown in place: every window over it stays valid
  } else if (held) {
    retire = true;
    e = WithReclaim([&] {
      return file ? os::MapFile(shared ? Access::kWrite : r->access, r->fd, r->file_offset, new_map_len, r->opts, &base)
                  : os::MapAnonymous(r->access, new_map_len, r->opts, &base);
    });
    if (!e && !shared && (e = CopyOwnPages(r, base, new_map_len, file))) {
      os::Unmap(base, new_map_len);
      base = nullptr;
    }
  } else {
    // Out of the guard while the range moves: its old address may be reused.
    guard::Move(r->slot, nullptr, 0);
    e = WithReclaim([&] { return os::Remap(r->base, r->map_len, new_map_len, &base); });
    if (e) guard::Move(r->slot, r->base, r->map_len);
  }
  if (e) {
    if (grown_from >= 0) os::Truncate(r->fd, grown_from);  // leave the file as it was
    ThrowSys(env, e);
    return nullptr;
  }
  DetachAll(env, r);
  if (retire) {
    guard::Move(r->slot, nullptr, 0);  // quarantined memory cannot raise SIGBUS
    os::Quarantine(r->base, r->map_len);  // if it cannot, the old mapping stays as it was: still no fault
    Retired* t = new Retired();
    t->base = r->base;
    t->len = r->map_len;
    for (Window* w = r->windows; w; w = w->next) {
      if (w->holding && !w->retired) {
        w->retired = t;
        t->holding++;
      }
    }
    r->holding -= t->holding;
    r->base = nullptr;  // the retired range keeps its place in g_live
    if (!base) {
      guard::Remove(r->slot);
      r->slot = -1;
      r->envd->live.erase(r);
    }
  }
  if (new_map_len == 0 && r->base) {
    guard::Remove(r->slot);
    r->slot = -1;
    r->envd->live.erase(r);
    os::Unmap(r->base, r->map_len);
  }
  bool had = r->base != nullptr;
  r->base = static_cast<uint8_t*>(base);
  r->map_len = new_map_len;
  r->length = static_cast<size_t>(new_length);
  if (had && !base) g_live--;
  if (!had && base) g_live++;
  Report(r, base ? ReportedCost(r) : 0);
  if (base && r->slot >= 0) {
    guard::Move(r->slot, base, new_map_len);
  } else if (base && (e = Guard(r))) {
    ThrowSys(env, e);  // mapped but unguarded: refuse to hand it out
    return nullptr;
  }
  return Undefined(env);
}

// fileAdvise(path | null, fd, offset, length, advice): posix_fadvise on a
// file, by path (opened read-only for the call) or by descriptor.
napi_value FileAdviseJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(5)) return nullptr;
  std::string path, name;
  bool have_path = !a.IsNull(0);
  int64_t fd_in, offset, length;
  if ((have_path && !a.String(0, "path", &path)) ||
      !a.Int(1, "fd", -1, 0x7fffffff, &fd_in) ||
      !a.Int(2, "offset", 0, (int64_t{1} << 53), &offset) ||
      !a.Int(3, "length", 0, (int64_t{1} << 53), &length) ||
      !a.String(4, "advice", &name)) {
    return nullptr;
  }
  int advice;
  if (!os::FileAdviceByName(name, &advice)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                          ("Unknown file advice \"" + name + "\"").c_str());
    return nullptr;
  }
  int fd = static_cast<int>(fd_in);
  bool created = false;
  SysErr e;
  if (have_path) {
    e = WithReclaim([&] { return os::OpenFile(path, false, false, 0, &fd, &created); });
  } else if (fd < 0) {
    e = Fail(EBADF, "posix_fadvise");
  }
  if (!e) e = os::FileAdvise(fd, offset, length, advice);
  if (have_path && fd >= 0) os::Close(fd);
  return Result(env, e);
}

// ---------------------------------------------------------------------------
// Raw layer: the golang.org/x/sys/unix calls, over buffers this addon made.

struct RawBuf {
  Region* region = nullptr;
  uint8_t* data = nullptr;
  size_t length = 0;
  size_t byte_offset = 0;
  napi_value arraybuffer = nullptr;
};

// Finds the raw mapping that holds the whole of `value` (a Buffer or other
// typed array); EINVAL when there is none, like x/sys's mmapper.
bool FindRaw(napi_env env, napi_value value, RawBuf* out) {
  bool is_ta = false;
  if (napi_is_typedarray(env, value, &is_ta) != napi_ok || !is_ta) {
    ThrowType(env, "The \"buffer\" argument must be a Buffer returned by mmap()");
    return false;
  }
  napi_typedarray_type type;
  size_t count;
  void* data;
  if (napi_get_typedarray_info(env, value, &type, &count, &data,
                               &out->arraybuffer, &out->byte_offset) != napi_ok) {
    ThrowType(env, "The \"buffer\" argument must be a Buffer returned by mmap()");
    return false;
  }
  size_t elem = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: elem = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
    default: elem = 1;
  }
  out->data = static_cast<uint8_t*>(data);
  out->length = count * elem;
  EnvData* envd = GetEnvData(env);
  uintptr_t p = reinterpret_cast<uintptr_t>(data);
  if (data && out->length > 0) {
    auto it = envd->raw.upper_bound(p);
    if (it != envd->raw.begin()) {
      --it;
      Region* r = it->second;
      uintptr_t base = reinterpret_cast<uintptr_t>(r->base);
      if (r->base && !r->closed && p >= base && p + out->length <= base + r->map_len) {
        out->region = r;
        return true;
      }
    }
  }
  ThrowSys(env, Fail(EINVAL, "memmap"));
  return false;
}

// mmap(fd, offset, length, prot, flags) => Buffer
napi_value RawMmapJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(5)) return nullptr;
  int64_t fd, offset, length, prot, flags;
  if (!a.Int(0, "fd", -1, 0x7fffffff, &fd) ||
      !a.Int(1, "offset", 0, (int64_t{1} << 53), &offset) ||
      !a.Int(2, "length", 1, (int64_t{1} << 53), &length) ||
      !a.Int(3, "prot", 0, 0x7fffffff, &prot) ||
      !a.Int(4, "flags", 0, 0x7fffffff, &flags)) {
    return nullptr;
  }
  const char* why = nullptr;
  if (!os::RawProtAllowed(static_cast<int>(prot)) ||
      !os::RawFlagsAllowed(static_cast<int>(flags), static_cast<int>(prot), &why)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                          why ? why : "unsupported PROT_* bits");
    return nullptr;
  }
  if (offset % static_cast<int64_t>(os::PageSize()) != 0) {
    ThrowSys(env, Fail(EINVAL, "mmap"));
    return nullptr;
  }
  bool anon = os::RawIsAnonymous(static_cast<int>(flags));
  if (!anon) {
    if (fd < 0) {
      ThrowSys(env, Fail(EBADF, "mmap"));
      return nullptr;
    }
    FileInfo fi;
    SysErr e = os::Stat(static_cast<int>(fd), &fi);
    if (e) {
      ThrowSys(env, e);
      return nullptr;
    }
    // Touching a page past the end of a file raises SIGBUS: refuse it here.
    if ((fi.regular || fi.block) && (offset > fi.size || length > fi.size - offset)) {
      ThrowRange(env, "The range [" + std::to_string(offset) + ", " +
                          std::to_string(offset + length) +
                          ") passes the end of the file (" +
                          std::to_string(fi.size) + " bytes)");
      return nullptr;
    }
  }
  Reclaim();
  void* base = nullptr;
  SysErr e = WithReclaim([&] {
    return os::MapRaw(anon ? -1 : static_cast<int>(fd), offset,
                      static_cast<size_t>(length), static_cast<int>(prot),
                      static_cast<int>(flags), &base);
  });
  if (e) {
    ThrowSys(env, e);
    return nullptr;
  }
  EnvData* envd = GetEnvData(env);
  Region* r = NewRegion(envd, Access::kRaw);
  r->length = static_cast<size_t>(length);
  envd->raw[reinterpret_cast<uintptr_t>(base)] = r;
  if ((e = Adopt(r, base, r->length))) {
    Release(r);
    Unref(r);
    ThrowSys(env, e);
    return nullptr;
  }
  napi_value buf = NewWindow(env, r, 0, r->length, false);  // the user's to drop: never pinned
  if (!buf) {
    Release(r);
    Unref(r);
    return nullptr;
  }
  r->raw_window = r->windows;
  Unref(r);  // from here the Buffer alone keeps the region
  return buf;
}

// munmap(buffer): only the very Buffer that mmap() returned.
napi_value RawMunmapJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(1)) return nullptr;
  RawBuf b;
  if (!FindRaw(env, a.argv[0], &b)) return nullptr;
  Region* r = b.region;
  bool same = false;
  napi_value ab = nullptr;
  if (r->raw_window && b.data == r->base && b.length == r->map_len &&
      b.byte_offset == 0 && r->raw_window->ref &&
      napi_get_reference_value(env, r->raw_window->ref, &ab) == napi_ok && ab) {
    napi_strict_equals(env, ab, b.arraybuffer, &same);
  }
  if (!same) {
    ThrowSys(env, Fail(EINVAL, "munmap"));
    return nullptr;
  }
  r->closed = true;
  DetachAll(env, r);
  Release(r);
  return Undefined(env);
}

// The raw calls that take (buffer, int).
napi_value RawOp(napi_env env, napi_callback_info info, int op) {
  Args a(env, info);
  if (!a.Need(op >= 3 ? 1 : 2)) return nullptr;
  int64_t arg = 0;
  if (op < 3 && !a.Int(1, op == 0 ? "flags" : op == 1 ? "advice" : "prot", 0,
                       0x7fffffff, &arg)) {
    return nullptr;
  }
  RawBuf b;
  if (!FindRaw(env, a.argv[0], &b)) return nullptr;
  size_t page = os::PageSize();
  uintptr_t start = reinterpret_cast<uintptr_t>(b.data);
  uintptr_t aligned = start & ~(page - 1);
  void* p = reinterpret_cast<void*>(aligned);
  size_t n = start + b.length - aligned;
  SysErr e;
  switch (op) {
    case 0: e = os::SyncRaw(p, n, static_cast<int>(arg)); break;
    case 1:
      if (!os::RawAdviceAllowed(static_cast<int>(arg))) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                              "This advice is not allowed from JavaScript");
        return nullptr;
      }
      e = os::Advise(p, n, static_cast<int>(arg));
      break;
    case 2:
      if (!os::RawProtAllowed(static_cast<int>(arg))) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "unsupported PROT_* bits");
        return nullptr;
      }
      e = os::Protect(p, n, static_cast<int>(arg));
      break;
    case 3: e = os::Lock(p, n); break;
    case 4: e = os::Unlock(p, n); break;
    case 5: {
      size_t pages = (n + page - 1) / page;
      void* data = nullptr;
      napi_value out;
      CHECK_NAPI(env, napi_create_buffer(env, pages, &data, &out));
      e = os::Residency(p, n, static_cast<uint8_t*>(data));
      if (e) break;
      return out;
    }
  }
  return Result(env, e);
}

napi_value RawMsyncJs(napi_env env, napi_callback_info info) { return RawOp(env, info, 0); }
napi_value RawMadviseJs(napi_env env, napi_callback_info info) { return RawOp(env, info, 1); }
napi_value RawMprotectJs(napi_env env, napi_callback_info info) { return RawOp(env, info, 2); }
napi_value RawMlockJs(napi_env env, napi_callback_info info) { return RawOp(env, info, 3); }
napi_value RawMunlockJs(napi_env env, napi_callback_info info) { return RawOp(env, info, 4); }
napi_value RawMincoreJs(napi_env env, napi_callback_info info) { return RawOp(env, info, 5); }

// stats() => { live, forcedGcs, windows (native window records of this thread) } for tests and diagnostics.
napi_value StatsJs(napi_env env, napi_callback_info) {
  napi_value out, live, gcs;
  CHECK_NAPI(env, napi_create_object(env, &out));
  napi_create_double(env, static_cast<double>(g_live.load()), &live);
  napi_create_double(env, static_cast<double>(g_forced_gcs.load()), &gcs);
  napi_set_named_property(env, out, "live", live);
  napi_set_named_property(env, out, "forcedGcs", gcs);
  EnvData* envd = GetEnvData(env);
  DrainFreed(envd);
  napi_value windows;
  napi_create_double(env, static_cast<double>(envd->windows), &windows);
  napi_set_named_property(env, out, "windows", windows);
  return out;
}

// faults(handle) => number of pages the guard replaced in this mapping.
napi_value FaultsJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(1)) return nullptr;
  Region* r = a.Handle(0);
  if (!r) return nullptr;
  napi_value n;
  napi_create_uint32(env, FaultCount(r), &n);
  return n;
}

// setFaultCallback(handle, fn | null): fn(offset, length, pages) is called
// on this thread after the guard absorbed faults in the mapping.
napi_value SetFaultCallbackJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(2)) return nullptr;
  Region* r = a.Handle(0);
  if (!r) return nullptr;
  if (r->on_fault) {
    napi_delete_reference(env, r->on_fault);
    r->on_fault = nullptr;
  }
  napi_valuetype t;
  napi_typeof(env, a.argv[1], &t);
  // Weak: the JavaScript Mapping holds the function, and must stay
  // collectable even when the function's closure refers to it.
  if (t == napi_function) CHECK_NAPI(env, napi_create_reference(env, a.argv[1], 0, &r->on_fault));
  return Undefined(env);
}

// Tells a mapping's onFault callback about new faults, with the byte range
// that is gone. Coalesced: a thread-pool job reading a truncated mapping
// faults page after page, and the guard wakes this thread for each, so a
// call is made only when the gone range changed (the file shrank again),
// or, with `final` (unmap()), when pages were counted since the last call.
void ReportFaults(napi_env env, EnvData* envd, Region* r, bool final) {
  uintptr_t first = 0;
  uint32_t n = guard::Faults(r->slot, &first);
  if (n <= r->faults_reported || !r->on_fault) return;
  // The bytes that are gone: from the file's new end to the mapping's end
  // (or, for an I/O error, from the first faulting page).
  uintptr_t user = reinterpret_cast<uintptr_t>(r->base) + r->delta;
  double offset = first > user ? static_cast<double>(first - user) : 0;
  FileInfo fi;
  if (StatOwnFd(r, &fi)) {
    int64_t start = fi.size - r->file_offset - static_cast<int64_t>(r->delta);
    if (start < static_cast<int64_t>(r->length)) offset = static_cast<double>(start > 0 ? start : 0);
  }
  if (!final && offset == r->fault_offset) return;  // the same news: wait for a change, or unmap()
  r->faults_reported = n;
  r->fault_offset = offset;
  napi_value fn, recv, argv[3], result;
  if (napi_get_reference_value(env, r->on_fault, &fn) != napi_ok || !fn) return;
  napi_get_global(env, &recv);  // napi_make_callback wants an object
  napi_create_double(env, offset, &argv[0]);
  napi_create_double(env, static_cast<double>(r->length) - offset, &argv[1]);
  napi_create_uint32(env, n, &argv[2]);
  napi_status s = napi_make_callback(env, envd->fault_context, recv, fn, 3, argv, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (s != napi_ok && pending) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);  // like a throwing event listener
  }
}

// Runs on the thread's event loop after the guard woke it.
void OnFaultWake(uv_async_t* async) {
  EnvData* envd = static_cast<EnvData*>(async->data);
  // The same wake-up serves released windows and collected handles.
  DrainFreed(envd);
  UnpinOrphans(envd);
  napi_env env = envd->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  std::vector<Region*> regions(envd->live.begin(), envd->live.end());
  for (Region* r : regions) {
    if (envd->live.count(r) == 0) continue;  // released by a callback meanwhile
    ReportFaults(env, envd, r, false);
  }
  napi_close_handle_scope(env, scope);
}

// Before the environment goes: the guard must stop waking this thread.
void CleanupEnv(void* data) {
  EnvData* envd = static_cast<EnvData*>(data);
  if (t_envd == envd) t_envd = nullptr;
  CancelEnvWaits(envd);
  for (Region* r : envd->live) guard::Silence(r->slot);
  uv_async_t* async = nullptr;
  {
    std::lock_guard<std::mutex> lock(envd->freed_mutex);  // see StoreFreed
    async = envd->async;
    envd->async = nullptr;
  }
  if (async) {
    uv_close(reinterpret_cast<uv_handle_t*>(async),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
  }
}

// share(handle) => id of the shared object behind an anonymous shared mapping.
napi_value ShareJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(1)) return nullptr;
  Region* r = a.Handle(0);
  if (!r || !CheckOpen(env, r)) return nullptr;
  if (r->access != Access::kAnonShared || r->fd < 0) {
    ThrowCode(env, "ERR_MEMMAP_NOT_SHAREABLE", "Only mapAnonymous(length, { shared: true }) mappings can be shared");
    return nullptr;
  }
  if (r->shared_id == 0) {
    int fd = -1;
    if (!CheckFdIntact(env, r)) return nullptr;
    SysErr e = WithReclaim([&] { return os::DupFd(r->fd, &fd); });
    if (e) {
      ThrowSys(env, e);
      return nullptr;
    }
    std::lock_guard<std::mutex> lock(g_shared_mutex);
    r->shared_id = g_next_shared++;
    g_shared[r->shared_id] = SharedEntry{fd, 1};
  }
  napi_value id;
  napi_create_double(env, static_cast<double>(r->shared_id), &id);
  return id;
}

// attach(id) => [handle, byteLength]: this thread's mapping of the object.
napi_value AttachJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t id;
  if (!a.Need(1) || !a.Int(0, "id", 1, (int64_t{1} << 53), &id)) return nullptr;
  int fd = -1;
  SysErr e;
  {
    std::lock_guard<std::mutex> lock(g_shared_mutex);
    auto it = g_shared.find(static_cast<uint64_t>(id));
    if (it == g_shared.end()) {
      ThrowCode(env, "ERR_MEMMAP_GONE",
                "The shared memory is gone: every mapping of it was unmapped before attach()");
      return nullptr;
    }
    e = os::DupFd(it->second.fd, &fd);
    if (!e) it->second.refs++;
  }
  if (e) {
    ThrowSys(env, e);
    return nullptr;
  }
  Region* r = NewRegion(GetEnvData(env), Access::kAnonShared);
  OwnFd(r, fd);
  r->shared_id = static_cast<uint64_t>(id);
  FileInfo fi;
  if (!(e = os::Stat(fd, &fi))) {
    r->length = static_cast<size_t>(fi.size);
    if (r->length > 0) {
      void* base = nullptr;
      e = WithReclaim([&] { return os::MapFile(Access::kWrite, fd, 0, r->length, r->opts, &base); });
      if (!e) e = Adopt(r, base, r->length);
    }
  }
  if (e) {
    Release(r);
    Unref(r);
    ThrowSys(env, e);
    return nullptr;
  }
  napi_value h = NewHandle(env, r);
  if (!h) return nullptr;
  napi_value out, len;
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &out));
  napi_create_double(env, static_cast<double>(r->length), &len);
  napi_set_element(env, out, 0, h);
  napi_set_element(env, out, 1, len);
  return out;
}

// fd(handle) => the mapping's own descriptor (valid until unmap), or -1.
napi_value FdJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(1)) return nullptr;
  Region* r = a.Handle(0);
  if (!r || !CheckOpen(env, r)) return nullptr;
  napi_value v;
  napi_create_int32(env, FdIntact(r) ? r->fd : -1, &v);  // -1 once someone closed it
  return v;
}

// shmOpen(name, create, exclusive, mode) => [fd, created]
napi_value ShmOpenJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::string name;
  bool create, exclusive;
  int64_t mode;
  if (!a.Need(4) || !a.String(0, "name", &name) || !a.Bool(1, &create) || !a.Bool(2, &exclusive) ||
      !a.Int(3, "mode", 0, 07777, &mode)) {
    return nullptr;
  }
  int fd = -1;
  bool created = false;
  SysErr e = WithReclaim([&] {
    return os::SharedMemoryOpen(name, create, exclusive, static_cast<int>(mode), &fd, &created);
  });
  if (e) {
    ThrowSys(env, e);
    return nullptr;
  }
  napi_value out, v;
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &out));
  napi_create_int32(env, fd, &v);
  napi_set_element(env, out, 0, v);
  napi_get_boolean(env, created, &v);
  napi_set_element(env, out, 1, v);
  return out;
}

// shmUnlink(name)
// closeFd(fd): closes a descriptor shmOpen() returned. Not fs.closeSync:
// Deno's node:fs refuses descriptors it did not open itself (EBADF).
napi_value CloseFdJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t fd;
  if (!a.Need(1) || !a.Int(0, "fd", 0, 0x7fffffff, &fd)) return nullptr;
  os::Close(static_cast<int>(fd));
  return Undefined(env);
}

napi_value ShmUnlinkJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::string name;
  if (!a.Need(1) || !a.String(0, "name", &name)) return nullptr;
  SysErr e = os::SharedMemoryUnlink(name);
  return Result(env, e);
}

// The 32-bit word at byteOffset of an open shared mapping.
int32_t* WordAt(napi_env env, Args& a, Region** out) {
  int64_t offset;
  Region* r = a.Handle(0);
  if (!r || !a.Int(1, "byteOffset", 0, (int64_t{1} << 53), &offset) || !CheckOpen(env, r)) return nullptr;
  if (offset % 4 != 0 || static_cast<uint64_t>(offset) + 4 > r->length || !r->base) {
    ThrowRange(env, "The index is outside the mapping (or the mapping is empty)");
    return nullptr;
  }
  *out = r;
  return reinterpret_cast<int32_t*>(r->base + r->delta + offset);
}

// wait(handle, byteOffset, expected, timeoutMs (-1: none)) => "ok" | "not-equal" | "timed-out"
napi_value WaitJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(4)) return nullptr;
  Region* r = nullptr;
  int32_t* word = WordAt(env, a, &r);
  int64_t expected, timeout;
  if (!word || !a.Int(2, "expected", INT32_MIN, INT32_MAX, &expected) ||
      !a.Int(3, "timeout", -1, (int64_t{1} << 53), &timeout)) {
    return nullptr;
  }
  // In slices: between two, the thread checks that it
  // can still run JavaScript. worker.terminate() and process.exit() stop the
  // thread's JavaScript and then wait for it; a wait that never looked up
  // would hold them forever (Atomics.wait is woken by the termination).
  // A notify() that changes nothing, sent in the instant between two slices,
  // is missed, as it would be by a waiter that had not started yet; the
  // usual protocols change the word before they notify.
  constexpr int64_t kWaitSlice = 50 * 1000000LL;
  EnvData* envd = GetEnvData(env);
  int64_t remaining = timeout < 0 ? -1 : timeout * 1000000;
  int outcome = 0;
  for (;;) {
    int64_t slice = remaining < 0 ? kWaitSlice : std::min(remaining, kWaitSlice);
    SysErr e = os::WaitOnAddress(word, static_cast<int32_t>(expected), slice, &outcome);
    if (e) {
      ThrowSys(env, e);
      return nullptr;
    }
    if (outcome != 2) break;  // woken, or the word changed
    if (remaining >= 0 && (remaining -= slice) <= 0) break;  // timed out
    if (!CanRunJs(envd)) {
      // Teardown began: end the call; the termination is what JavaScript sees.
      ThrowCode(env, "ERR_MEMMAP_CLOSED", "The thread is being torn down");
      return nullptr;
    }
  }
  napi_value v;
  napi_create_string_utf8(env, outcome == 0 ? "ok" : outcome == 1 ? "not-equal" : "timed-out", NAPI_AUTO_LENGTH, &v);
  return v;
}

// notify(handle, byteOffset, count) => number of waiters woken
napi_value NotifyJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(3)) return nullptr;
  Region* r = nullptr;
  int32_t* word = WordAt(env, a, &r);
  int64_t count;
  if (!word || !a.Int(2, "count", 0, INT32_MAX, &count)) return nullptr;
  // This thread's own waits on the word first, oldest first, settled here
  // (as Atomics.notify settles its thread's waitAsync calls): through the
  // waiter, the wake-up would come back on a later turn of an event loop
  // that a pending wait does not keep alive.
  int woken = 0;
  std::vector<AsyncWait*> mine;
  for (AsyncWait* aw : r->envd->waits) {
    if (aw->wait.word == word) mine.push_back(aw);
  }
  std::sort(mine.begin(), mine.end(), [](AsyncWait* x, AsyncWait* y) { return x->seq < y->seq; });
  for (AsyncWait* aw : mine) {
    if (woken == count) break;
    if (!waiter::Cancel(&aw->wait)) continue;  // ended already: on its way back
    aw->wait.outcome = waiter::Outcome::kWoken;
    FinishWait(env, aw);
    woken++;
  }
  if (woken < count) {
    int others = 0;
    SysErr e = os::WakeAddress(word, static_cast<int32_t>(count - woken), &others);
    if (e) {
      ThrowSys(env, e);
      return nullptr;
    }
    woken += others;
  }
  napi_value v;
  napi_create_int32(env, woken, &v);
  return v;
}

// The process-wide switches lib/ sets, each from one boolean argument.
// setStoreFollowsObject only ever switches on, before the first window is made.
napi_value SetFlag(napi_env env, napi_callback_info info, std::atomic<bool>* flag, bool only_on) {
  Args a(env, info);
  bool on;
  if (!a.Need(1) || !a.Bool(0, &on)) return nullptr;
  if (on || !only_on) *flag = on;
  return Undefined(env);
}

#ifdef MEMMAP_TEST_HOOKS
// setRefuseExternalForTest(bool): see g_refuse_external.
napi_value SetRefuseExternalJs(napi_env env, napi_callback_info info) {
  return SetFlag(env, info, &g_refuse_external, false);
}
#endif

// setStoreFollowsObject(bool): see g_store_follows_object.
napi_value SetStoreFollowsObjectJs(napi_env env, napi_callback_info info) {
  return SetFlag(env, info, &g_store_follows_object, true);
}

// guardReassert(jsListening) => boolean: see guard::Reassert. Called by
// lib/backends/native.ts whenever a 'SIGBUS' listener is added or removed.
napi_value GuardReassertJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  bool listening;
  if (!a.Need(1) || !a.Bool(0, &listening)) return nullptr;
  napi_value v;
  napi_get_boolean(env, guard::Reassert(listening), &v);
  return v;
}

void EnvTeardown(napi_env, void* data, void*) {
  EnvData* envd = static_cast<EnvData*>(data);
  // The runtime finalized every object and released the memory of the last
  // external ArrayBuffers (Node does that in cleanup hooks, before this):
  // give those ranges back.
  for (Region* r : envd->orphans) Unref(r);
  envd->orphans.clear();
  DrainFreed(envd);
  envd->dead = true;
  FreeEnvData(envd);
}

napi_value Init(napi_env env, napi_value exports) {
  EnvData* envd = new EnvData();
  envd->env = env;
  t_envd = envd;
  if (napi_set_instance_data(env, envd, EnvTeardown, nullptr) != napi_ok) {
    delete envd;
    ThrowStatus(env, napi_generic_failure, "napi_set_instance_data");
    return nullptr;
  }
  // The fault guard, and the wake-up it sends this thread.
  guard::Install();

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) == napi_ok && loop) {
    envd->async = new uv_async_t();
    if (uv_async_init(loop, envd->async, OnFaultWake) == 0) {
      envd->async->data = envd;
      uv_unref(reinterpret_cast<uv_handle_t*>(envd->async));  // never keeps the loop alive
    } else {
      delete envd->async;
      envd->async = nullptr;
    }
  }
  napi_value noop;
  if (napi_create_function(env, "noop", NAPI_AUTO_LENGTH, [](napi_env, napi_callback_info) -> napi_value { return nullptr; },
                           nullptr, &noop) == napi_ok) {
    napi_create_reference(env, noop, 1, &envd->noop);
  }
  napi_value context_name;
  napi_create_string_utf8(env, "memmap.fault", NAPI_AUTO_LENGTH, &context_name);
  napi_async_init(env, nullptr, context_name, &envd->fault_context);
  napi_add_env_cleanup_hook(env, CleanupEnv, envd);
  struct Fn {
    const char* name;
    napi_callback cb;
    uint32_t arity;
  };
  // Each with its arity: the function's `length`, which test/exports.test.ts
  // checks against NativeAddon in lib/load.ts.
  static const Fn fns[] = {
      {"mapFile", MapFileJs, 11},
      {"mapAnonymous", MapAnonymousJs, 6},
      {"window", WindowJs, 3},
      {"unmap", UnmapJs, 1},
      {"msync", MsyncJs, 4},
      {"flush", FlushJs, 3},
      {"prefetch", PrefetchJs, 3},
      {"advise", AdviseJs, 4},
      {"lock", LockJs, 4},
      {"residency", ResidencyJs, 3},
      {"resize", ResizeJs, 2},
      {"rawMmap", RawMmapJs, 5},
      {"rawMunmap", RawMunmapJs, 1},
      {"rawMsync", RawMsyncJs, 2},
      {"rawMadvise", RawMadviseJs, 2},
      {"rawMprotect", RawMprotectJs, 2},
      {"rawMlock", RawMlockJs, 1},
      {"rawMunlock", RawMunlockJs, 1},
      {"rawMincore", RawMincoreJs, 1},
      {"stats", StatsJs, 0},
      {"fileAdvise", FileAdviseJs, 5},
#ifdef MEMMAP_TEST_HOOKS
      {"setRefuseExternalForTest", SetRefuseExternalJs, 1},
#endif
      {"setStoreFollowsObject", SetStoreFollowsObjectJs, 1},
      {"guardReassert", GuardReassertJs, 1},
      {"faults", FaultsJs, 1},
      {"share", ShareJs, 1},
      {"attach", AttachJs, 1},
      {"fd", FdJs, 1},
      {"shmOpen", ShmOpenJs, 4},
      {"shmUnlink", ShmUnlinkJs, 1},
      {"closeFd", CloseFdJs, 1},
      {"wait", WaitJs, 4},
      {"waitAsync", WaitAsyncJs, 5},
      {"notify", NotifyJs, 3},
      {"setFaultCallback", SetFaultCallbackJs, 2},
  };

  for (const Fn& f : fns) {
    napi_value fn;
    CHECK_NAPI(env, napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb,
                                         nullptr, &fn));
    napi_value arity;
    CHECK_NAPI(env, napi_create_uint32(env, f.arity, &arity));
    napi_property_descriptor length = {"length", nullptr, nullptr, nullptr, nullptr, arity, napi_configurable, nullptr};
    CHECK_NAPI(env, napi_define_properties(env, fn, 1, &length));
    CHECK_NAPI(env, napi_set_named_property(env, exports, f.name, fn));
  }
  napi_value v, constants, advice;
  napi_create_double(env, static_cast<double>(os::PageSize()), &v);
  napi_set_named_property(env, exports, "pageSize", v);
  napi_create_double(env, static_cast<double>(os::AllocationGranularity()), &v);
  napi_set_named_property(env, exports, "allocationGranularity", v);
  CHECK_NAPI(env, napi_create_object(env, &constants));
  for (const auto& c : os::Constants()) {
    napi_create_double(env, static_cast<double>(c.value), &v);
    napi_set_named_property(env, constants, c.name, v);
  }
  napi_set_named_property(env, exports, "constants", constants);
  std::vector<std::string> names = os::AdviceNames();
  CHECK_NAPI(env, napi_create_array_with_length(env, names.size(), &advice));
  for (size_t i = 0; i < names.size(); i++) {
    napi_create_string_utf8(env, names[i].c_str(), names[i].size(), &v);
    napi_set_element(env, advice, static_cast<uint32_t>(i), v);
  }
  napi_set_named_property(env, exports, "adviceNames", advice);
  std::vector<std::string> file_names = os::FileAdviceNames();
  CHECK_NAPI(env, napi_create_array_with_length(env, file_names.size(), &advice));
  for (size_t i = 0; i < file_names.size(); i++) {
    napi_create_string_utf8(env, file_names[i].c_str(), file_names[i].size(), &v);
    napi_set_element(env, advice, static_cast<uint32_t>(i), v);
  }
  napi_set_named_property(env, exports, "fileAdviceNames", advice);
  return exports;
}

}  // namespace
}  // namespace memmap

NAPI_MODULE_INIT() { return memmap::Init(env, exports); }
