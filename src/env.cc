// The per-thread environment: the fault guard's wake-up, teardown, and the
// switches lib/ sets.

#include "internal.h"

namespace memmap {

// Runs on the thread's event loop after the guard woke it.
void OnFaultWake(uv_async_t* async) {
  EnvData* envd = static_cast<EnvData*>(async->data);
  // The guard's estimate of the mapping count only grows: read it again
  // if it came near the line.
  budget::Refresh();
  guard::Replenish();  // spares the guard gave back at the kernel's limit
  // The same wake-up serves released slabs and collected handles.
  DrainFreed(envd);
  UnpinOrphans(envd);
  napi_env env = envd->env;
  for (DeadRef* d : envd->dead_refs) {
    napi_delete_reference(env, d->ref);
    delete d;
  }
  envd->dead_refs.clear();
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  std::vector<Region*> regions(envd->regions.begin(), envd->regions.end());
  for (Region* r : regions) {
    if (envd->regions.count(r) == 0) continue;  // freed by a callback meanwhile
    if (r->map.guarded()) ReportFaults(env, envd, r, false);
  }
  napi_close_handle_scope(env, scope);
}

// Before the environment goes: the guard must stop waking this thread.
void CleanupEnv(void* data) {
  EnvData* envd = static_cast<EnvData*>(data);
  if (t_envd == envd) t_envd = nullptr;
  CancelEnvWaits(envd);
  // No JavaScript of this thread can reach its mappings again: their files
  // and descriptors go now (quarantined), not when their finalizers run,
  // which Deno never does for a worker's objects. The addresses go back
  // with the finalizers, where they run.
  for (Region* r : envd->regions) {
    if (r->inflight == 0) Quarantine(r);
    r->map.Silence();
  }
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

// The process-wide switches lib/ sets, each from one boolean argument.
// setStoreFollowsObject only ever switches on, before the first slab is made.
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

napi_value BoolJs(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}
// takeNextQuarantineForTest() => boolean and takenIntactForTest() =>
// boolean: see os::TakeNextQuarantineForTest.
napi_value TakeNextQuarantineJs(napi_env env, napi_callback_info) {
  return BoolJs(env, os::TakeNextQuarantineForTest());
}
napi_value TakenIntactJs(napi_env env, napi_callback_info) { return BoolJs(env, os::TakenIntactForTest()); }
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
  CancelEnvWaits(envd);  // and those stranded while the thread-safe function closed
  DrainFreed(envd);
  envd->dead = true;
  FreeEnvData(envd);
}

bool RegisterEnv(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
#ifdef MEMMAP_TEST_HOOKS
      {"setRefuseExternalForTest", SetRefuseExternalJs, 1},
      {"takeNextQuarantineForTest", TakeNextQuarantineJs, 0},
      {"takenIntactForTest", TakenIntactJs, 0},
#endif
      {"setStoreFollowsObject", SetStoreFollowsObjectJs, 1},
      {"guardReassert", GuardReassertJs, 1},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
