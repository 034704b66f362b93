// The lifetime of mappings: the registry of live ranges, and the rules that
// decide when an address range may be given back to the system. Argument
// checking, defaults and error shaping are in TypeScript (lib/); the addon
// still refuses anything it is handed that it cannot use, with an exception
// and never an abort.
//
// Lifetime rules (the heart of "no call sequence can crash the process"):
//  * A Region is one mmap'd range. Three things may keep it mapped:
//    its JavaScript handle (until unmap() or GC), every slab (an external
//    ArrayBuffer over part of the range) that still holds it, and every
//    piece of thread-pool work that is running on its addresses.
//  * JavaScript reaches the memory only through slabs: a few per mapping,
//    made on demand by lib/slabs.ts, which cuts every view() out of one.
//    A slab is registered once for detaching and for its two finalizers,
//    so the number of native records does not grow with the views.
//  * A slab holds the range until its ArrayBuffer object is collected
//    (detached or not: see Holds). Its memory may have been moved to another
//    ArrayBuffer (ArrayBuffer.prototype.transfer(), any transfer list on
//    Deno), which may still read it: then it holds the range until that
//    memory itself is released (the store finalizer). A dead object cannot
//    be asked whether it was moved, so the question is asked while it
//    lives: a slab is pinned (a strong reference) while its mapping's
//    handle lives, and checked when the handle goes or at unmap(). A slab
//    whose death no check vouches for waits for its memory's release too.
//    See Pin.
//  * unmap() detaches every slab first, so JavaScript can never reach the
//    range again. It unmaps at once only if nothing else can reach it. A
//    detached slab whose ArrayBuffer was not yet collected may be held by
//    native code (a thread-pool job of Node's crypto, zlib or fs has the
//    pointer): then the range is quarantined, that is replaced at once by
//    inert anonymous memory (the file is let go), and given back when the
//    last slab is collected. Work of ours (flush, prefetch) still running
//    on the range keeps the real mapping until it ends.
//  * Garbage collection: the handle and each slab carry a finalizer. The
//    range is unmapped when the handle and the last slab are gone. It is
//    unmapped once: Release() is the only caller of Mapping::Unmap, which
//    clears the base (a range resize() retired is unmapped when its
//    Retired record is deleted, by the last slab's LetGo).
//  * NAPI_EXPERIMENTAL makes Node run these (basic) finalizers synchronously
//    inside the garbage collection, rather than on a later turn of the event
//    loop. Together with a forced collection when the process nears its
//    mapping limit (Reclaim in src/slabs.cc), a synchronous loop that maps and drops
//    hundreds of thousands of mappings never reaches vm.max_map_count.

#include "internal.h"

namespace memmap {

std::atomic<size_t> g_next_gc{0};   // when Mapping::Live() reaches this, collect first
std::atomic<uint64_t> g_forced_gcs{0};
// Tests set this to act as a runtime that refuses external buffers
// (Electron 21+ returns napi_no_external_buffers_allowed). Only the test
// build (MEMMAP_TEST_HOOKS, binding.gyp's memmap_test) exports the switch.
std::atomic<bool> g_refuse_external{false};
// Set (by lib/backends/native.ts) on Bun, which calls an external
// ArrayBuffer's finalizer when the object its memory was moved *from* dies,
// while the ArrayBuffer it was moved to may still read it: there a slab
// found moved is never let go (its range stays quarantined for good).
std::atomic<bool> g_store_follows_object{false};
// How many of the next Allocate() calls fail (only the test build sets it).
std::atomic<uint32_t> g_fail_allocations{0};

bool TakeAllocationFailure() {
  uint32_t n = g_fail_allocations.load(std::memory_order_relaxed);
  while (n > 0) {
    if (g_fail_allocations.compare_exchange_weak(n, n - 1)) return true;
  }
  return false;
}

// What a JavaScript call throws when the records it needs cannot be had:
// an fs-shaped ENOMEM naming the call it stands for, as mmap's own would be.
void ThrowNoMemory(napi_env env, const char* syscall) { ThrowSys(env, Fail(ENOMEM, syscall)); }

EnvData* GetEnvData(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<EnvData*>(data);
}

void FreeEnvData(EnvData* envd) {
  if (envd->dead && envd->regions.empty()) delete envd;
}

// A released region's fault callback, held strongly since release(), goes
// with its range. Touches no JavaScript: it may run inside a collection.
// Where not even its small record can be had, the reference is left to the
// process (the callback stays alive, and with it what it holds): a leak,
// never an abort.
static void DropFaultCallback(Region* r) {
  if (!r->on_fault) return;
  if (DeadRef* d = Allocate<DeadRef>()) {
    d->ref = r->on_fault;
    r->envd->dead_refs.push(d);
    if (r->envd->async) uv_async_send(r->envd->async);
  }
  r->on_fault = nullptr;
}

// Out of the raw layer's table (raw.cc), if the entry at its base is still
// this region's: a range Quarantine lost (os::QuarantineLost) may since
// have been mapped again, by another raw mapping, at the same address.
static void DropRaw(Region* r) {
  if (r->map.access() != Access::kRaw || !r->map.mapped()) return;
  auto it = r->envd->raw.find(reinterpret_cast<uintptr_t>(r->map.base()));
  if (it != r->envd->raw.end() && it->second == r) r->envd->raw.erase(it);
}

void Unref(Region* r) {
  if (--r->refs > 0) return;
  DropFaultCallback(r);
  DropRaw(r);  // the record goes: FindRaw must not find it
  // Still mapped: a slab holds the range for good (on Bun, memory moved
  // by transfer() outlives the slab's record: see g_store_follows_object).
  // The range stays, quarantined, as it is; it must not go with the record.
  if (r->map.mapped()) r->map.Abandon();
  EnvData* envd = r->envd;
  envd->regions.erase(r);
  delete r;
  FreeEnvData(envd);
}

int64_t ReportedCost(const Region* r) {
  // Anonymous memory is real memory: report all of it, as a Buffer would.
  // File mappings are backed by the page cache, which the kernel can reclaim
  // at will; reporting gigabytes would only make V8 collect without cause.
  // Their scarce resources (mappings, descriptors) are watched by Reclaim().
  int64_t len = static_cast<int64_t>(r->map.map_len());
  if (r->map.anonymous()) return len;
  return std::min<int64_t>(len, 16 << 20) + (64 << 10);
}

// Tells V8 what the range costs now (after a map or a resize).
void ReportMapped(Region* r) { Report(r, r->map.mapped() ? ReportedCost(r) : 0); }

// After a fresh region was mapped (or failed to be, as `e` says): reports
// its cost, or undoes it and throws. Returns whether it stands.
bool Settle(napi_env env, Region* r, const Error& e) {
  if (e) {
    Release(r);
    Unref(r);
    ThrowError(env, e);
    return false;
  }
  ReportMapped(r);
  return true;
}

void Report(Region* r, int64_t bytes) {
  if (r->envd->dead) return;
  int64_t ignored;
  // Callable from a finalizer: it takes a basic env.
  napi_adjust_external_memory(r->envd->env, bytes - r->reported, &ignored);
  r->envd->reported += bytes - r->reported;
  r->reported = bytes;
}

bool CheckFdIntact(napi_env env, const Region* r) {
  if (r->map.fd() < 0 || r->map.FdIntact()) return true;
  ThrowSys(env, Fail(EBADF, "fstat"));  // closed by someone else: nothing to do safely
  return false;
}

// unmap() ran, but something may still reach the range: a slab that was
// detached yet not collected (native code, such as a thread-pool job of
// Node's crypto, zlib or fs, holds the ArrayBuffer while it runs), or memory
// moved to another ArrayBuffer. The file goes at once; the addresses stay
// taken by inert memory until nothing can reach them (Release).
void Quarantine(Region* r) {
  if (!r->map.Quarantine()) return;  // already, or cannot: the mapping stays as it is
  DropShared(r->shared_id);
  r->shared_id = 0;
  Report(r, 0);
}

// Gives the range back to the system when nothing can reach it any more.
// Touches no JavaScript: it runs inside garbage collection.
void Release(Region* r) {
  if (r->handle_alive || r->inflight > 0 || r->holding > 0) {
    // Closed by unmap() and no work of ours still on the range: only
    // stragglers can reach it. Let the file go now.
    if (r->closed && r->inflight == 0) Quarantine(r);
    return;
  }
  DropRaw(r);
  r->map.Unmap();  // the only unmap of a safe mapping's range
  DropFaultCallback(r);
  DropShared(r->shared_id);
  r->shared_id = 0;
  Report(r, 0);
}

void DeleteRef(napi_env env, void* data, void*) {
  napi_delete_reference(env, static_cast<napi_ref>(data));
}

void HandleFinalize(node_api_basic_env env, void* data, void*) {
  Region* r = static_cast<Region*>(data);
  if (r->on_fault && !r->released) {  // a released one's goes with the range
    // References can only be deleted outside garbage collection.
    node_api_post_finalizer(env, DeleteRef, r->on_fault, nullptr);
    r->on_fault = nullptr;
  }
  r->handle_alive = false;
  CancelWaits(nullptr, r, WaitEnd::kCollected);  // nobody can notify through this mapping any more
  // Pinned slabs are checked and let go outside the collection (see Pinning in src/slabs.cc).
  for (Slab* w = r->slabs; w; w = w->next) {
    if (!w->pinned) continue;
    r->refs++;
    r->envd->orphans.push(r);
    if (r->envd->async) uv_async_send(r->envd->async);
    break;
  }
  Release(r);
  Unref(r);
}

static void WakeEnv(void* arg) { uv_async_send(static_cast<uv_async_t*>(arg)); }

static Region* InitRegion(Region* r, EnvData* envd, Access access, const MapOptions& opts) {
  r->envd = envd;
  // The fault guard wakes this thread after a fault in the range.
  r->map.Configure(access, opts, envd->async ? WakeEnv : nullptr, envd->async);
  r->refs = 1;  // dropped by the handle finalizer (or by the raw view)
  envd->regions.insert(r);
  return r;
}

// The record of a mapping about to be made, or nullptr with ENOMEM thrown.
Region* NewRegion(napi_env env, Access access, const MapOptions& opts) {
  Region* r = Allocate<Region>();
  if (!r) {
    ThrowNoMemory(env, "mmap");
    return nullptr;
  }
  return InitRegion(r, GetEnvData(env), access, opts);
}

// A "write" mapping whose file shrank (or failed, or filled) under it lost
// what was written to the pages the guard replaced: flush() and unmap()
// must say so (Mapping::LostWrites says how).
bool CheckNotTruncated(napi_env env, Region* r, const char* syscall) {
  Error lost = r->map.LostWrites(syscall);
  if (!lost) return true;
  ThrowError(env, lost);
  return false;
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

bool CheckOpen(napi_env env, Region* r) {
  if (r->closed || r->released) {
    ThrowCode(env, "ERR_MEMMAP_CLOSED", "The mapping is closed");
    return false;
  }
  return true;
}

bool ParseRange(Args& a, size_t argc, RangeArgs* out) {
  if (!a.Need(argc)) return false;
  int64_t offset, length;
  out->region = a.Handle(0);
  if (!out->region || !a.Int(1, "offset", 0, kMaxSafe, &offset) ||
      !a.Int(2, "length", 0, kMaxSafe, &length)) {
    return false;
  }
  if (!CheckOpen(a.env, out->region)) return false;
  Error e = out->region->map.PageRange(offset, length, &out->addr, &out->len);
  if (e) ThrowError(a.env, e);
  return !e;
}

}  // namespace memmap
