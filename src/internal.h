// Internals shared by the addon's files: the records of a mapping and its
// slabs, the per-thread environment, and what every binding uses. The
// lifetime rules are at the top of src/lifetime.cc. Each file registers its
// own functions (Register*, called by src/addon.cc at load).
#pragma once

#define NAPI_EXPERIMENTAL
#include <node_api.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "guard.h"
#include "mapping.h"
#include "platform/platform.h"
#include "waiter.h"

namespace memmap {

struct Args;
struct RangeArgs;

struct EnvData;
struct Region;
// How a waitAsync() call ended: by the waiter (woken, timed out, failed),
// by unmap(), or by the collection of its mapping's handle.
enum class WaitEnd { kWaiter, kUnmapped, kCollected };

// A range that resize() moved a mapping away from while slabs over it
// were still alive: quarantined, and given back when the last one goes.
struct Retired {
  Mapping range;       // unmapped when this is deleted
  size_t holding = 0;  // slabs over it not yet let go
};

// One external ArrayBuffer over part of a Region. Lives until both of its
// finalizers ran: the object's (napi_add_finalizer, inside GC) and the
// memory's (the external ArrayBuffer's own, which some runtimes call later,
// or on another thread: see StoreFreed).
struct Slab {
  Region* region = nullptr;
  uint64_t checked = 0;        // the collection epoch in which it was last found not moved (see Pinning in src/slabs.cc)
  Retired* retired = nullptr;  // set when resize() retired the range it is over
  napi_ref ref = nullptr;      // weak, from napi_add_finalizer
  Slab** list = nullptr;     // &region->slabs, &region->held or none: where its state puts it (see Refile)
  Slab* prev = nullptr;      // in *list
  Slab* next = nullptr;
  Slab* next_freed = nullptr;  // in region->envd->freed, once its memory was released (see StoreFreed)
  bool holding = true;         // counted in region->holding
  bool object_dead = false;    // the ArrayBuffer object was collected
  bool ref_deleted = false;    // ...and its reference deleted (SlabCleanup)
  bool detached = false;       // detached by unmap() or resize()
  bool store_freed = false;    // the memory's finalizer ran (on this thread's queue)
  bool moved = false;          // found detached by someone else: its memory lives on elsewhere
  bool pinned = false;         // `ref` is strong: the object cannot be collected (see Pinning in src/slabs.cc)
  bool vouched = false;        // collected right after a check found it not moved
};

// A mapping as JavaScript holds it: the range (a Mapping, with no
// Node-API in it) and what can reach it from JavaScript: its handle, its
// slabs, thread-pool work and waits on it.
struct Region {
  EnvData* envd = nullptr;
  Mapping map;                 // the range and its file (src/mapping.h)
  int64_t reported = 0;        // bytes reported to V8 as external memory
  bool handle_alive = false;
  bool closed = false;       // unmap() ran
  bool released = false;     // release() ran: the handle is done, the slabs keep the range
  int inflight = 0;
  int refs = 0;  // what keeps this struct (not the range) alive
  Slab* raw_slab = nullptr;  // the one slab of a raw mapping
  uint32_t faults_reported = 0;  // pages counted in the last onFault call
  double fault_offset = -1;      // the gone range's start in that call
  napi_ref on_fault = nullptr;  // JavaScript callback for faults, if any
  uint64_t shared_id = 0;       // in the shared-memory registry (share/attach)
  std::vector<struct AsyncWait*> waits;  // waitAsync() calls pending on this range
  Region* next_orphan = nullptr;  // in envd->orphans, once its handle was collected with pinned slabs
  // Its slabs not yet freed are on at most one of these lists (see Refile
  // in src/slabs.cc), so that no walk visits a slab that has nothing
  // to do there: one made by a loop that never yields waits for a later
  // turn to be freed.
  Slab* slabs = nullptr;  // JavaScript may reach them: neither detached by us nor collected (DetachAll's list)
  Slab* held = nullptr;     // the others that still hold the current range (what resize() hands to a Retired)
  size_t holding = 0;         // slabs that keep the current range mapped
};

// A stack threaded through a field of its items, so that a push allocates
// nothing: finalizers and other threads push onto these, and must not fail
// when memory or the kernel's count of mappings has run out (the addon is
// built without exceptions: a std::vector that cannot grow aborts the
// process). Iterated newest first; each item's successor is read before the
// loop's body runs, so the body may free the item.
template <typename T, T* T::*Next>
class Chain {
 public:
  class iterator {
   public:
    explicit iterator(T* at) : at_(at), next_(at ? at->*Next : nullptr) {}
    T* operator*() const { return at_; }
    iterator& operator++() {
      at_ = next_;
      next_ = at_ ? at_->*Next : nullptr;
      return *this;
    }
    bool operator!=(const iterator& other) const { return at_ != other.at_; }

   private:
    T* at_;
    T* next_;
  };
  void push(T* item) {
    item->*Next = head_;
    head_ = item;
  }
  bool empty() const { return head_ == nullptr; }
  void clear() { head_ = nullptr; }
  void swap(Chain& other) { std::swap(head_, other.head_); }
  iterator begin() const { return iterator(head_); }
  iterator end() const { return iterator(nullptr); }

 private:
  T* head_ = nullptr;
};

// A released region's fault callback whose range went, waiting for
// OnFaultWake (src/env.cc) to delete the reference outside any collection.
struct DeadRef {
  napi_ref ref = nullptr;
  DeadRef* next = nullptr;
};

struct EnvData {
  uv_async_t* async = nullptr;   // woken by the fault guard
  napi_async_context fault_context = nullptr;
  std::set<Region*> regions;     // Region structs of this thread still allocated
  napi_ref noop = nullptr;  // a function to probe with: can JavaScript still run?
  napi_env env = nullptr;
  std::map<uintptr_t, Region*> raw;  // raw mappings by base address
  size_t slabs = 0;                // Slab structs still allocated
  bool dead = false;                 // the environment is being torn down
  // Windows whose memory was released, possibly on another thread (Deno
  // frees ArrayBuffer memory on a background thread): handled on this
  // thread by DrainFreed, woken through `async`.
  std::mutex freed_mutex;
  Chain<Slab, &Slab::next_freed> freed;
  std::atomic<bool> any_freed{false};
  // Regions whose handle was collected with pinned slabs (see Pinning in src/slabs.cc).
  Chain<Region, &Region::next_orphan> orphans;
  // Fault callbacks of released regions whose range went (inside a
  // collection, maybe): deleted by OnFaultWake, outside it.
  Chain<DeadRef, &DeadRef::next> dead_refs;
  // Pending waitAsync() calls of this thread, and how they come back.
  std::set<struct AsyncWait*> waits;
  size_t persistent_waits = 0;          // ...of which keep the event loop alive
  uint64_t wait_seq = 0;
  napi_threadsafe_function wait_tsfn = nullptr;
  struct AsyncWait* stranded = nullptr;  // ended while it was closing (under freed_mutex; linked through AsyncWait::next_stranded)
  int64_t reported = 0;     // bytes this thread's mappings report to V8 as external memory (Report)
  uint64_t epoch = 1;       // bumped before each round of a forced collection (see Pinning in src/slabs.cc)
  bool forcing = false;     // inside a forced collection (ForceGc)
  uint64_t walked = 0;      // slabs visited by DetachAll and resize(); the test build's slabsWalkedForTest() reads it

  ~EnvData() {
    for (DeadRef* d : dead_refs) delete d;  // their references went with the environment
  }
};

// Process-wide state (src/lifetime.cc) and this thread's environment (src/slabs.cc).
extern std::atomic<size_t> g_next_gc;
extern std::atomic<uint64_t> g_forced_gcs;
extern std::atomic<bool> g_refuse_external;
extern std::atomic<bool> g_store_follows_object;
extern thread_local EnvData* t_envd;

// One exported function: its name, its callback and its arity (the
// function's `length`, which test/exports.test.ts holds to lib/load.ts).
struct FnSpec {
  const char* name;
  napi_callback cb;
  uint32_t arity;
};

// src/napi_util.cc
bool DefineFunctions(napi_env env, napi_value exports, const FnSpec* fns, size_t count);
napi_value MakeSysError(napi_env env, const SysErr& e);
void ThrowSys(napi_env env, const SysErr& e);
void ThrowError(napi_env env, const Error& e);
void ThrowCode(napi_env env, const char* code, const std::string& msg);
void ThrowRange(napi_env env, const std::string& msg);
void ThrowType(napi_env env, const std::string& msg);
void ThrowStatus(napi_env env, napi_status status, const char* what);
napi_value Undefined(napi_env env);
napi_value Result(napi_env env, const Error& e);  // undefined, or throws e
napi_value CodedError(napi_env env, const char* code, const std::string& text);
napi_value MakeError(napi_env env, const Error& e);  // what ThrowError throws

// src/lifetime.cc
// `new (std::nothrow) T()`: nullptr when memory ran out, where a plain `new`
// would end the process (the addon is built without exceptions). The test
// build's failAllocationsForTest(n) makes the next n fail (TakeAllocationFailure).
extern std::atomic<uint32_t> g_fail_allocations;
bool TakeAllocationFailure();
template <typename T>
T* Allocate() {
  if (TakeAllocationFailure()) return nullptr;
  return new (std::nothrow) T();
}
void ThrowNoMemory(napi_env env, const char* syscall);
EnvData* GetEnvData(napi_env env);
void FreeEnvData(EnvData* envd);
void Unref(Region* r);
int64_t ReportedCost(const Region* r);
void Report(Region* r, int64_t bytes);
void ReportMapped(Region* r);
bool Settle(napi_env env, Region* r, const Error& e);
bool CheckFdIntact(napi_env env, const Region* r);
void Quarantine(Region* r);
void Release(Region* r);
void DeleteRef(napi_env env, void* data, void*);
void HandleFinalize(node_api_basic_env env, void* data, void*);
Region* NewRegion(napi_env env, Access access, const MapOptions& opts);
bool CheckNotTruncated(napi_env env, Region* r, const char* syscall);
napi_value NewHandle(napi_env env, Region* r);
bool CheckOpen(napi_env env, Region* r);
bool ParseRange(Args& a, size_t argc, RangeArgs* out);

// src/slabs.cc
size_t MinGcTrigger();
void Unpin(napi_env env, Slab* w);
bool UnpinOrphans(EnvData* envd);
void ForceGc();
void Reclaim();
void LetGo(Slab* w);
bool Holds(const Slab* w);
void Refile(Slab* w);
void Update(Slab* w);
void MaybeFreeSlab(Slab* w);
void SlabCleanup(napi_env env, void* data, void*);
void SlabFinalize(node_api_basic_env env, void* data, void*);
void DrainFreed(EnvData* envd);
void StoreFreed(node_api_basic_env, void*, void* hint);
void DetachAll(napi_env env, Region* r);
napi_value NewSlab(napi_env env, Region* r, size_t offset, size_t length, bool pin);
napi_value SlabJs(napi_env env, napi_callback_info info);

// src/map_api.cc
napi_value HandleAndLength(napi_env env, Region* r, const Error& e);
napi_value MapFileJs(napi_env env, napi_callback_info info);
napi_value MapAnonymousJs(napi_env env, napi_callback_info info);
napi_value UnmapJs(napi_env env, napi_callback_info info);
napi_value ReleaseJs(napi_env env, napi_callback_info info);
napi_value MsyncJs(napi_env env, napi_callback_info info);

// src/range_api.cc
napi_value AdviseJs(napi_env env, napi_callback_info info);
napi_value LockJs(napi_env env, napi_callback_info info);
napi_value ResidencyJs(napi_env env, napi_callback_info info);
napi_value FileAdviseJs(napi_env env, napi_callback_info info);
napi_value ReserveFileJs(napi_env env, napi_callback_info info);
napi_value StatsJs(napi_env env, napi_callback_info);
napi_value FaultsJs(napi_env env, napi_callback_info info);
napi_value SetFaultCallbackJs(napi_env env, napi_callback_info info);
void ReportFaults(napi_env env, EnvData* envd, Region* r, bool final);

// src/resize.cc
napi_value ResizeJs(napi_env env, napi_callback_info info);

// src/work.cc
bool CanRunJs(EnvData* envd);
void WorkExecute(napi_env, void* data);
void WorkComplete(napi_env env, napi_status status, void* data);
napi_value FlushJs(napi_env env, napi_callback_info info);
napi_value PrefetchJs(napi_env env, napi_callback_info info);

// src/wait.cc
void SendBack(struct AsyncWait* aw);
bool ParseWait(Args& a, size_t argc, Region** r, int32_t** word, int64_t* expected, int64_t* timeout);
const char* WaitOutcome(waiter::Outcome o);
void FinishWait(napi_env env, AsyncWait* aw);
void WaitCallJs(napi_env env, napi_value, void*, void* data);
void WaitDone(waiter::Wait* w);
void CancelEnvWaits(EnvData* envd);
void WaitTsfnFinalize(napi_env, void* data, void*);
void CancelWaits(napi_env env, Region* r, WaitEnd end);
napi_value WaitAsyncJs(napi_env env, napi_callback_info info);
int32_t* WordAt(napi_env env, Args& a, Region** out);
napi_value WaitJs(napi_env env, napi_callback_info info);
napi_value NotifyJs(napi_env env, napi_callback_info info);

// src/shared.cc
void DropShared(uint64_t id);
napi_value ShareJs(napi_env env, napi_callback_info info);
napi_value AttachJs(napi_env env, napi_callback_info info);
napi_value FdJs(napi_env env, napi_callback_info info);
napi_value ShmOpenJs(napi_env env, napi_callback_info info);
napi_value CloseFdJs(napi_env env, napi_callback_info info);
napi_value ShmUnlinkJs(napi_env env, napi_callback_info info);

// src/raw.cc
napi_value RawMmapJs(napi_env env, napi_callback_info info);
napi_value RawMunmapJs(napi_env env, napi_callback_info info);
napi_value RawPagesJs(napi_env env, napi_callback_info info);

// src/env.cc
void OnFaultWake(uv_async_t* async);
void CleanupEnv(void* data);
napi_value SetFlag(napi_env env, napi_callback_info info, std::atomic<bool>* flag, bool only_on);
napi_value SetRefuseExternalJs(napi_env env, napi_callback_info info);
napi_value SetStoreFollowsObjectJs(napi_env env, napi_callback_info info);
napi_value GuardReassertJs(napi_env env, napi_callback_info info);
void EnvTeardown(napi_env, void* data, void*);

// The files that register functions, called by src/addon.cc.
bool RegisterSlabs(napi_env env, napi_value exports);
bool RegisterMapApi(napi_env env, napi_value exports);
bool RegisterRangeApi(napi_env env, napi_value exports);
bool RegisterResize(napi_env env, napi_value exports);
bool RegisterWork(napi_env env, napi_value exports);
bool RegisterWait(napi_env env, napi_value exports);
bool RegisterShared(napi_env env, napi_value exports);
bool RegisterRaw(napi_env env, napi_value exports);
bool RegisterEnv(napi_env env, napi_value exports);

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

// Number.MAX_SAFE_INTEGER + 1: every offset and length JavaScript can pass exactly.
constexpr int64_t kMaxSafe = int64_t{1} << 53;

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

  // The handle that comes first in a call of `n` arguments.
  Region* HandleOf(size_t n) { return Need(n) ? Handle(0) : nullptr; }

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

// The shape most calls share: (handle, offset, length, ...) on an open
// mapping, the range checked and widened to whole pages.
struct RangeArgs {
  Region* region = nullptr;
  uint8_t* addr = nullptr;
  size_t len = 0;
};

}  // namespace memmap
