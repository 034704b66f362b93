// The addon's entry point: this thread's environment, the fault guard, and
// the exports, which each binding file registers itself. The layout of
// src/ (docs/architecture.md has every file):
//  * core/: no Node-API. A mapped range and its file (MappedRange,
//    range.h), its lifetime (Lease, lease.h), the mapping budget
//    (budget.h), the fault guard's table (guard.h, guard_slots.h) and the
//    waiter threads (waiter.h).
//  * platform/: every system call, behind platform.h (namespace os), and
//    the fault guard's handlers (guard_posix.cc, guard_win.cc).
//  * napi/: the bindings, one file per JavaScript object: mapping.cc (the
//    handle), mapping_pages.cc, faults.cc, slabs.cc, work.cc, wait.cc,
//    shared.cc, raw.cc, files.cc, env.cc; util.h for what they all use.
#include <string>
#include <vector>

#include "env.h"
#include "register.h"

namespace memmap {

// exports[name] = an array of the strings.
static bool SetStrings(napi_env env, napi_value exports, const char* name, const std::vector<std::string>& strings) {
  napi_value array, v;
  if (napi_create_array_with_length(env, strings.size(), &array) != napi_ok) return false;
  for (size_t i = 0; i < strings.size(); i++) {
    napi_create_string_utf8(env, strings[i].c_str(), strings[i].size(), &v);
    napi_set_element(env, array, static_cast<uint32_t>(i), v);
  }
  return napi_set_named_property(env, exports, name, array) == napi_ok;
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
  guard::Replenish();  // the guard's spare mappings, for a fault at the kernel's limit
  // A MappedRange short of mappings, descriptors or memory collects garbage
  // (dropped mappings are unmapped by their finalizers) and tries again.
  g_on_exhaustion = ForceGc;

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
  // Each file registers its own functions.
  if (!RegisterMapping(env, exports) || !RegisterMappingPages(env, exports) || !RegisterFaults(env, exports) ||
      !RegisterFiles(env, exports) || !RegisterSlabs(env, exports) || !RegisterWork(env, exports) ||
      !RegisterWait(env, exports) || !RegisterShared(env, exports) || !RegisterRaw(env, exports) ||
      !RegisterEnv(env, exports)) {
    return nullptr;
  }
  napi_value v, constants;
  napi_create_double(env, static_cast<double>(os::PageSize()), &v);
  napi_set_named_property(env, exports, "pageSize", v);
  napi_create_double(env, static_cast<double>(os::AllocationGranularity()), &v);
  napi_set_named_property(env, exports, "allocationGranularity", v);
  napi_create_string_utf8(env, os::SystemName(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, exports, "system", v);
  napi_get_boolean(env, os::SharedMemoryResizable(), &v);
  napi_set_named_property(env, exports, "sharedMemoryResizable", v);
  CHECK_NAPI(env, napi_create_object(env, &constants));
  for (const auto& c : os::Constants()) {
    napi_create_double(env, static_cast<double>(c.value), &v);
    napi_set_named_property(env, constants, c.name, v);
  }
  napi_set_named_property(env, exports, "constants", constants);
  if (!SetStrings(env, exports, "adviceNames", os::AdviceNames()) ||
      !SetStrings(env, exports, "fileAdviceNames", os::FileAdviceNames())) {
    return nullptr;
  }
  return exports;
}

}  // namespace memmap

NAPI_MODULE_INIT() { return memmap::Init(env, exports); }
