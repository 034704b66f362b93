// The per-thread environment (one per main thread or worker): its
// mappings, the fault guard's wake-up, slabs freed on other threads, waits
// coming back, teardown; and the switches lib/ sets (src/napi/env.cc).
#pragma once

#include "napi.h"
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "mapping.h"
#include "slabs.h"

namespace memmap {

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

// A released mapping's fault callback whose range went, waiting for
// OnFaultWake (src/napi/env.cc) to delete the reference outside any collection.
struct DeadRef {
  napi_ref ref = nullptr;
  DeadRef* next = nullptr;
};

struct EnvData {
  uv_async_t* async = nullptr;   // woken by the fault guard
  napi_async_context fault_context = nullptr;
  std::set<JsMapping*> mappings;  // JsMapping records of this thread still allocated
  napi_ref noop = nullptr;  // a function to probe with: can JavaScript still run?
  napi_env env = nullptr;
  std::map<uintptr_t, JsMapping*> raw;  // raw mappings by base address
  size_t slabs = 0;                // Slab structs still allocated
  bool dead = false;                 // the environment is being torn down
  // Slabs whose memory was released, possibly on another thread (Deno
  // frees ArrayBuffer memory on a background thread): handled on this
  // thread by DrainFreed, woken through `async`.
  std::mutex freed_mutex;
  Chain<Slab, &Slab::next_freed> freed;
  std::atomic<bool> any_freed{false};
  // Mappings whose handle was collected with pinned slabs (see Pinning in src/napi/slabs.cc).
  Chain<JsMapping, &JsMapping::next_orphan> orphans;
  // Fault callbacks of released mappings whose range went (inside a
  // collection, maybe): deleted by OnFaultWake, outside it.
  Chain<DeadRef, &DeadRef::next> dead_refs;
  // Pending waitAsync() calls of this thread, and how they come back.
  std::set<AsyncWait*> waits;
  size_t persistent_waits = 0;          // ...of which keep the event loop alive
  uint64_t wait_seq = 0;
  napi_threadsafe_function wait_tsfn = nullptr;
  AsyncWait* stranded = nullptr;  // ended while it was closing (under freed_mutex; linked through AsyncWait::next_stranded)
  int64_t reported = 0;     // bytes this thread's mappings report to V8 as external memory (Report)
  uint64_t epoch = 1;       // bumped before each round of a forced collection (see Pinning in src/napi/slabs.cc)
  bool forcing = false;     // inside a forced collection (ForceGc)
  uint64_t walked = 0;      // slabs visited by DetachAll and resize(); the test build's slabsWalkedForTest() reads it

  ~EnvData() {
    for (DeadRef* d : dead_refs) delete d;  // their references went with the environment
  }
};

// This thread's environment (the one Init made on it), and any thread's.
extern thread_local EnvData* t_envd;
EnvData* GetEnvData(napi_env env);
// Deletes it once it is torn down and no mapping record is left.
void FreeEnvData(EnvData* envd);

// Process-wide state.
extern std::atomic<size_t> g_next_gc;        // when MappedRange::Live() reaches this, collect first (Reclaim)
extern std::atomic<uint64_t> g_forced_gcs;   // collections forced (stats())
// Tests set this to act as a runtime that refuses external buffers
// (Electron 21+ returns napi_no_external_buffers_allowed). Only the test
// build (MEMMAP_TEST_HOOKS, binding.gyp's memmap_test) exports the switch.
extern std::atomic<bool> g_refuse_external;
// Set (by lib/backends/native.ts) on Bun, which calls an external
// ArrayBuffer's finalizer when the object its memory was moved *from* dies,
// while the ArrayBuffer it was moved to may still read it: there a slab
// found moved is never let go (its range stays quarantined for good).
extern std::atomic<bool> g_store_follows_object;

// The guard woke this thread: faults to report, slabs freed elsewhere,
// pins of collected handles to check, fault callbacks to delete.
void OnFaultWake(uv_async_t* async);
// Cleanup hook: the guard must stop waking this thread before it goes.
void CleanupEnv(void* data);
// Whether this thread can still run JavaScript (teardown has not begun).
bool CanRunJs(EnvData* envd);
// Instance-data finalizer: the environment is gone.
void EnvTeardown(napi_env, void* data, void*);

}  // namespace memmap
