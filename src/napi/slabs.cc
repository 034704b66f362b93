// Windows (the external ArrayBuffers JavaScript reaches a mapping through),
// their finalizers and pins, and forced collections.

#include "env.h"

namespace memmap {

// The number of live mappings at which the first forced collection comes:
// a quarter of vm.max_map_count.
size_t MinGcTrigger() {
  static const size_t trigger = [] {
    size_t max = os::MaxMapCount();
    return max >= 4096 ? max / 4 : size_t{8192};
  }();
  return trigger;
}

// Pinning. A slab is made pinned (its reference strong) unless it is a raw
// mapping's, so that its object outlives its mapping's handle. When the
// handle is collected, its pinned slabs wait in `orphans` until this
// thread next runs outside a collection (OnFaultWake, or ForceGc before it
// collects): there each is checked, moved (detached by someone else) or not,
// and let go. The check vouches for the slab only if it is collected
// before any JavaScript runs again, which ForceGc arranges (see Holds).
void Unpin(napi_env env, Slab* w) {
  if (!w->pinned) return;
  napi_value ab = nullptr;
  bool detached = false;
  if (napi_get_reference_value(env, w->ref, &ab) == napi_ok && ab) {
    napi_is_detached_arraybuffer(env, ab, &detached);
  }
  if (detached && !w->detached) w->moved = true;
  w->checked = w->mapping->envd->epoch;
  uint32_t count = 0;
  napi_reference_unref(env, w->ref, &count);
  w->pinned = false;
}

// Checks and lets go the pinned slabs of collected handles; says whether
// there were any.
bool UnpinOrphans(EnvData* envd) {
  if (envd->orphans.empty()) return false;
  Chain<JsMapping, &JsMapping::next_orphan> orphans;
  orphans.swap(envd->orphans);
  napi_env env = envd->env;
  napi_handle_scope scope;
  bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
  for (JsMapping* r : orphans) {
    for (Slab* w = r->slabs; w; w = w->next) Unpin(env, w);
    DropRef(r);  // taken by HandleFinalize
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
  // Two rounds at most: the first lets go the slabs of handles collected
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
  if (envd) DrainFreed(envd);  // slabs released during the collection
}

// Before making a mapping: if this process holds many, collect garbage so
// that the finalizers of dropped mappings unmap them (synchronously: see the
// top of src/napi/mapping.cc). The trigger then moves to twice what survived.
void Reclaim() {
  if (t_envd) DrainFreed(t_envd);
  size_t live = MappedRange::Live();
  size_t next = g_next_gc.load();
  if (next == 0) next = MinGcTrigger();
  if (live < next) return;
  ForceGc();
  g_next_gc = std::max(MinGcTrigger(), MappedRange::Live() * 2);
}

// A slab stops holding its range (one holder less: Lease::DropHolder).
void StopHolding(Slab* w) {
  if (!w->holding) return;
  w->holding = false;
  Refile(w);
  if (Retired* t = w->retired) {
    if (--t->holders == 0) delete t;  // unmaps the range
    return;
  }
  w->mapping->DropHolder();
}

// Whether a slab still holds its range. Its ArrayBuffer object, even
// detached, may be held by native code with the pointer (Node's thread pool
// keeps the object of a Buffer it works on): until the object is collected.
// Its memory may live on in another ArrayBuffer where it was moved: until
// the memory is released too. The memory's release alone proves nothing:
// on Node, detaching releases it while a job still has the pointer.
//
// Whether it was moved is known for a slab detached by us (unmap(),
// resize(): not moved, and it cannot be moved after), for one found
// detached by a check (moved), and for one collected in a forced collection
// right after a check found it not moved (vouched). Any other death may
// follow a move, so it waits for the memory's release as well; the range
// stays mapped (the moved copy still reads the file) until then.
bool Holds(const Slab* w) {
  if (w->moved && g_store_follows_object) return true;  // nothing will tell when the memory goes
  if (!w->object_dead) return true;
  if (w->moved) return !w->store_freed;
  if (w->detached || w->vouched) return false;
  return !w->store_freed;
}

void StopHoldingIfUnreachable(Slab* w) {
  if (w->holding && !Holds(w)) StopHolding(w);
}

static void Unlist(Slab* w) {
  if (!w->list) return;
  if (w->prev) w->prev->next = w->next;
  else *w->list = w->next;
  if (w->next) w->next->prev = w->prev;
  w->prev = w->next = nullptr;
  w->list = nullptr;
}

// Puts a slab on the list its state says, after every change of that
// state: on its mapping's `slabs` while JavaScript may reach it (what
// DetachAll walks), on `held` while it holds the current range from
// elsewhere (what a resize() that retires the range hands over), else on
// none. A slab detached by unmap() or resize() leaves DetachAll's list
// then, not when it is freed (a turn of the event loop later at the
// soonest): so a loop of resizes that never yields visits each slab at
// most twice, however long it runs.
void Refile(Slab* w) {
  JsMapping* r = w->mapping;
  Slab** list = !w->detached && !w->object_dead ? &r->slabs : w->holding && !w->retired ? &r->held : nullptr;
  if (list == w->list) return;
  Unlist(w);
  if (!list) return;
  w->next = *list;
  if (*list) (*list)->prev = w;
  *list = w;
  w->list = list;
}

// Frees the struct once both finalizers have run.
void MaybeFreeSlab(Slab* w) {
  if (!w->ref_deleted || !w->store_freed) return;
  JsMapping* r = w->mapping;
  Unlist(w);  // on Bun, a moved slab holds its range for good
  if (r->raw_slab == w) r->raw_slab = nullptr;
  r->envd->slabs--;
  delete w;
  DropRef(r);
}

// Runs later, outside garbage collection, where references may be deleted.
void SlabCleanup(napi_env env, void* data, void*) {
  Slab* w = static_cast<Slab*>(data);
  if (w->ref) napi_delete_reference(env, w->ref);
  w->ref = nullptr;
  w->ref_deleted = true;
  MaybeFreeSlab(w);
}

// The ArrayBuffer object was collected (inside GC: no JavaScript here).
void SlabFinalize(node_api_basic_env env, void* data, void*) {
  Slab* w = static_cast<Slab*>(data);
  w->object_dead = true;
  EnvData* envd = w->mapping->envd;
  // No JavaScript ran between the check and this collection: it was not moved.
  w->vouched = envd->forcing && !w->moved && w->checked == envd->epoch;
  StopHoldingIfUnreachable(w);
  Refile(w);
  if (node_api_post_finalizer(env, SlabCleanup, w, nullptr) != napi_ok) {
    // The environment is going away; the struct is left to the process.
  }
}

// On this thread: the slabs whose memory was released.
void DrainFreed(EnvData* envd) {
  if (!envd->any_freed.load(std::memory_order_acquire)) return;
  Chain<Slab, &Slab::next_freed> freed;
  {
    std::lock_guard<std::mutex> lock(envd->freed_mutex);
    freed.swap(envd->freed);
    envd->any_freed = false;
  }
  for (Slab* w : freed) {
    w->store_freed = true;
    StopHoldingIfUnreachable(w);
    MaybeFreeSlab(w);
  }
}

// The external ArrayBuffer's memory was released: by Node on a later turn
// of the event loop, by Bun inside GC, by Deno on a background thread. So
// it only queues the slab for this thread and wakes it, through the
// slab's own link: nothing is allocated (this may run at exit, with no
// memory or mappings left).
void StoreFreed(node_api_basic_env, void*, void* hint) {
  Slab* w = static_cast<Slab*>(hint);
  EnvData* envd = w->mapping->envd;  // the slab's reference to its mapping keeps both alive
  std::lock_guard<std::mutex> lock(envd->freed_mutex);
  envd->freed.push(w);
  envd->any_freed.store(true, std::memory_order_release);
  // Under the lock: CleanupEnv takes `async` away under it before closing it.
  if (envd->async) uv_async_send(envd->async);
}

// Detaches every slab handed out, so no JavaScript can reach the range.
//
// A slab already detached when unmap() comes was detached by someone else:
// ArrayBuffer.prototype.transfer() or a transfer list moved its memory to
// another ArrayBuffer, which may still read it. Such a slab holds the range
// until that memory is released (the store finalizer). One that this call
// detaches holds it until its object is collected.
void DetachAll(napi_env env, JsMapping* r) {
  // Each one leaves the list as it is detached (a collection meanwhile may
  // take others off: the head is read again each time).
  while (Slab* w = r->slabs) {
    r->envd->walked++;
    napi_value ab = nullptr;
    bool was_detached = false;
    if (w->ref && napi_get_reference_value(env, w->ref, &ab) == napi_ok && ab) {
      napi_is_detached_arraybuffer(env, ab, &was_detached);
      if (!was_detached) napi_detach_arraybuffer(env, ab);
    }
    w->detached = true;
    // Detached, the slab still holds the range until its object is
    // collected: native code may hold the ArrayBuffer (and its pointer)
    // while it runs. A moved one holds it until its memory is released.
    if (was_detached) w->moved = true;
    if (w->pinned) {
      uint32_t count = 0;
      napi_reference_unref(env, w->ref, &count);
      w->pinned = false;
    }
    Refile(w);
  }
}

// An external ArrayBuffer over `length` bytes at `offset` (user
// coordinates), registered as a slab of `r`; pinned (see Pinning above) if `pin`.
napi_value NewSlab(napi_env env, JsMapping* r, size_t offset, size_t length, bool pin) {
  napi_value ab;
  if (length == 0 || !r->range().mapped()) {
    CHECK_NAPI(env, napi_create_arraybuffer(env, 0, nullptr, &ab));
    return ab;
  }
  uint8_t* p = r->range().data() + offset;
  Slab* w = Allocate<Slab>();
  if (!w) {
    ThrowNoMemory(env, "mmap");
    return nullptr;
  }
  w->mapping = r;
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
  Refile(w);  // first on `slabs`: raw.cc takes it from there
  r->AddHolder();
  r->Ref();
  r->envd->slabs++;
  napi_status s = napi_add_finalizer(env, ab, w, SlabFinalize, nullptr, &w->ref);
  if (s != napi_ok) {
    // Cannot track it: make sure it can never be used.
    napi_detach_arraybuffer(env, ab);
    w->detached = true;
    w->object_dead = true;
    w->ref_deleted = true;
    w->ref = nullptr;
    StopHolding(w);
    ThrowStatus(env, s, "napi_add_finalizer");
    return nullptr;
  }
  uint32_t count = 0;
  if (pin && napi_reference_ref(env, w->ref, &count) == napi_ok) w->pinned = true;
  return ab;
}

// slab(handle, offset, length, pinned) => ArrayBuffer over those bytes;
// see lib/slabs.ts. An unpinned slab (arrayBuffer()'s, one per call) can
// be collected while the mapping lives: where the runtime runs the memory's
// finalizer only when the memory is free (Node, Deno), its death is safe to
// act on. lib/ pins every slab on Bun, where it is not (g_store_follows_object).
napi_value SlabJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  JsMapping* r = a.HandleOf(4);
  int64_t offset, length;
  bool pinned;
  if (!r || !a.Int(1, "offset", 0, kMaxSafe, &offset) ||
      !a.Int(2, "length", 0, kMaxSafe, &length) || !a.Bool(3, &pinned)) {
    return nullptr;
  }
  if (!CheckOpen(env, r)) return nullptr;
  if (static_cast<uint64_t>(offset) > r->range().length() ||
      static_cast<uint64_t>(length) > r->range().length() - static_cast<uint64_t>(offset)) {
    ThrowRange(env, "The slab is outside the mapping");
    return nullptr;
  }
  DrainFreed(r->envd);
  return NewSlab(env, r, static_cast<size_t>(offset), static_cast<size_t>(length), pinned || g_store_follows_object);
}

#ifdef MEMMAP_TEST_HOOKS
// slabsWalkedForTest() => the slabs this thread's DetachAll and resize()
// visited so far (EnvData::walked).
static napi_value SlabsWalkedJs(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_double(env, static_cast<double>(GetEnvData(env)->walked), &v);
  return v;
}

// failAllocationsForTest(n) => how many failures set before were not used:
// the next n records of ours cannot be had (see Allocate).
static napi_value FailAllocationsJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t n;
  if (!a.Need(1) || !a.Int(0, "n", 0, UINT32_MAX, &n)) return nullptr;
  napi_value unused;
  napi_create_uint32(env, g_fail_allocations.exchange(static_cast<uint32_t>(n)), &unused);
  return unused;
}
#endif

bool RegisterSlabs(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"slab", SlabJs, 4},
#ifdef MEMMAP_TEST_HOOKS
      {"slabsWalkedForTest", SlabsWalkedJs, 0},
      {"failAllocationsForTest", FailAllocationsJs, 1},
#endif
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
