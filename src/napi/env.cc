// The per-thread environment: the fault guard's wake-up, teardown, and the
// switches lib/ sets.

#include "env.h"

#include <vector>

#include "faults.h"
#include "register.h"
#include "slabs.h"
#include "wait.h"

namespace memmap {

// Process-wide state (see env.h).
std::atomic<size_t> g_next_gc{0};
std::atomic<uint64_t> g_forced_gcs{0};
std::atomic<bool> g_refuse_external{false};
std::atomic<bool> g_store_follows_object{false};

thread_local EnvData* t_envd = nullptr;

EnvData* GetEnvData(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<EnvData*>(data);
}

void FreeEnvData(EnvData* envd) {
  if (envd->dead && envd->mappings.empty()) delete envd;
}


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
  std::vector<JsMapping*> mappings(envd->mappings.begin(), envd->mappings.end());
  for (JsMapping* r : mappings) {
    if (envd->mappings.count(r) == 0) continue;  // freed by a callback meanwhile
    if (r->range().guarded()) ReportFaults(env, envd, r, false);
  }
  napi_close_handle_scope(env, scope);
}

// Before the environment goes: the guard must stop waking this thread.
void CleanupEnv(void* data) {
  EnvData* envd = static_cast<EnvData*>(data);
  if (t_envd == envd) t_envd = nullptr;
  CancelEnvWaits(envd);
  // No JavaScript of this thread can reach its mappings again: they close
  // now (Lease::BeginClose), so their files and descriptors go now
  // (quarantined, or unmapped if nothing holds them), not when their
  // finalizers run, which Deno never does for a worker's objects. Ranges
  // still held go back with the finalizers, where they run.
  for (JsMapping* m : envd->mappings) {
    m->range().Silence();
    if (m->state() != Lease::State::kOpen && m->state() != Lease::State::kReleased) continue;
    m->BeginClose();
    m->EndClose();
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
  for (JsMapping* r : envd->orphans) DropRef(r);
  envd->orphans.clear();
  CancelEnvWaits(envd);  // and those stranded while the thread-safe function closed
  DrainFreed(envd);
  envd->dead = true;
  FreeEnvData(envd);
}

// stats() => { live, forcedGcs, slabs (native slab records of this thread),
// reported (bytes this thread's mappings report to V8) } for tests and diagnostics.
static napi_value StatsJs(napi_env env, napi_callback_info) {
  napi_value out, live, gcs;
  CHECK_NAPI(env, napi_create_object(env, &out));
  napi_create_double(env, static_cast<double>(MappedRange::Live()), &live);
  napi_create_double(env, static_cast<double>(g_forced_gcs.load()), &gcs);
  napi_set_named_property(env, out, "live", live);
  napi_set_named_property(env, out, "forcedGcs", gcs);
  EnvData* envd = GetEnvData(env);
  DrainFreed(envd);
  napi_value slabs;
  napi_create_double(env, static_cast<double>(envd->slabs), &slabs);
  napi_set_named_property(env, out, "slabs", slabs);
  napi_value reported;
  napi_create_double(env, static_cast<double>(envd->reported), &reported);
  napi_set_named_property(env, out, "reported", reported);
  // The mapping budget (src/core/budget.h).
  budget::Stats b = budget::Read();
  const struct {
    const char* name;
    double value;
  } figures[] = {
      {"mapLimit", static_cast<double>(b.limit)},       {"mapLine", static_cast<double>(b.line)},
      {"mapCount", static_cast<double>(b.counted)},     {"mapEstimate", static_cast<double>(b.estimate)},
      {"mapReadings", static_cast<double>(b.readings)}, {"mapRefusals", static_cast<double>(b.refusals)},
  };
  for (const auto& f : figures) {
    napi_value v;
    napi_create_double(env, f.value, &v);
    napi_set_named_property(env, out, f.name, v);
  }
  return out;
}

bool RegisterEnv(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
#ifdef MEMMAP_TEST_HOOKS
      {"setRefuseExternalForTest", SetRefuseExternalJs, 1},
      {"takeNextQuarantineForTest", TakeNextQuarantineJs, 0},
      {"takenIntactForTest", TakenIntactJs, 0},
#endif
      {"stats", StatsJs, 0},
      {"setStoreFollowsObject", SetStoreFollowsObjectJs, 1},
      {"guardReassert", GuardReassertJs, 1},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
