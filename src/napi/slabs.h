// Slabs: the external ArrayBuffers JavaScript reaches a mapping's memory
// through (lib/slabs.ts cuts every view out of one), their finalizers and
// pins; and the forced collections that run those finalizers when the
// process nears its mapping limit (src/napi/slabs.cc).
#pragma once

#include "napi.h"

#include <cstddef>
#include <cstdint>

#include "../core/range.h"

namespace memmap {

class JsMapping;
struct EnvData;

// A range that resize() moved a mapping away from while slabs over it
// were still alive: quarantined, and given back when the last one goes.
struct Retired {
  MappedRange range;       // unmapped when this is deleted
  size_t holders = 0;  // slabs over it not yet let go
};

// One external ArrayBuffer over part of a JsMapping. Lives until both of its
// finalizers ran: the object's (napi_add_finalizer, inside GC) and the
// memory's (the external ArrayBuffer's own, which some runtimes call later,
// or on another thread: see StoreFreed).
struct Slab {
  JsMapping* mapping = nullptr;
  uint64_t checked = 0;        // the collection epoch in which it was last found not moved (see Pinning in src/napi/slabs.cc)
  Retired* retired = nullptr;  // set when resize() retired the range it is over
  napi_ref ref = nullptr;      // weak, from napi_add_finalizer
  Slab** list = nullptr;     // &mapping->slabs, &mapping->held or none: where its state puts it (see Refile)
  Slab* prev = nullptr;      // in *list
  Slab* next = nullptr;
  Slab* next_freed = nullptr;  // in mapping->envd->freed, once its memory was released (see StoreFreed)
  bool holding = true;         // counted in its mapping's holders (Lease::AddHolder)
  bool object_dead = false;    // the ArrayBuffer object was collected
  bool ref_deleted = false;    // ...and its reference deleted (SlabCleanup)
  bool detached = false;       // detached by unmap() or resize()
  bool store_freed = false;    // the memory's finalizer ran (on this thread's queue)
  bool moved = false;          // found detached by someone else: its memory lives on elsewhere
  bool pinned = false;         // `ref` is strong: the object cannot be collected (see Pinning in src/napi/slabs.cc)
  bool vouched = false;        // collected right after a check found it not moved
};

// The number of live mappings at which the first forced collection comes.
size_t MinGcTrigger();
// A full collection, so that the finalizers of dropped mappings run now.
void ForceGc();
// Before making a mapping: collects first if this process holds many.
void Reclaim();
// Pinning (see src/napi/slabs.cc).
void Unpin(napi_env env, Slab* w);
bool UnpinOrphans(EnvData* envd);
// A slab stops holding its range.
void StopHolding(Slab* w);
// Whether it still holds it; StopHolding if not.
bool Holds(const Slab* w);
void StopHoldingIfUnreachable(Slab* w);
// Puts a slab on the list its state says (see Refile in src/napi/slabs.cc).
void Refile(Slab* w);
// The slabs whose memory was released (StoreFreed), handled on this thread.
void DrainFreed(EnvData* envd);
// Detaches every slab handed out, so no JavaScript can reach the range.
void DetachAll(napi_env env, JsMapping* m);
// An external ArrayBuffer over `length` bytes at `offset` of `m`.
napi_value NewSlab(napi_env env, JsMapping* m, size_t offset, size_t length, bool pin);

}  // namespace memmap
