// Faults the fault guard absorbed in a mapping, told to JavaScript: the
// onFault callback (coalesced) and faults().

#include "faults.h"

#include "env.h"
#include "register.h"

namespace memmap {

// A released mapping's fault callback, held strongly since release(), goes
// with its range. Touches no JavaScript: it may run inside a collection.
// Where not even its small record can be had, the reference is left to the
// process (the callback stays alive, and with it what it holds): a leak,
// never an abort.
void DropFaultCallback(JsMapping* r) {
  if (!r->on_fault) return;
  if (DeadRef* d = Allocate<DeadRef>()) {
    d->ref = r->on_fault;
    r->envd->dead_refs.push(d);
    if (r->envd->async) uv_async_send(r->envd->async);
  }
  r->on_fault = nullptr;
}

// faults(handle) => number of pages the guard replaced in this mapping.
static napi_value FaultsJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  JsMapping* r = a.HandleOf(1);
  if (!r) return nullptr;
  napi_value n;
  napi_create_uint32(env, r->range().Faults(), &n);
  return n;
}

// setFaultCallback(handle, fn | null): fn(offset, length, pages) is called
// on this thread after the guard absorbed faults in the mapping.
static napi_value SetFaultCallbackJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  JsMapping* r = a.HandleOf(2);
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
void ReportFaults(napi_env env, EnvData* envd, JsMapping* r, bool final) {
  uintptr_t first = 0;
  uint32_t n = r->range().Faults(&first);
  if (n <= r->faults_reported || !r->on_fault) return;
  // The bytes that are gone: from the file's new end to the mapping's end
  // (or, for an I/O error, from the first faulting page).
  double offset = r->range().GoneFrom(first);
  if (!final && offset == r->fault_offset) return;  // the same news: wait for a change, or unmap()
  r->faults_reported = n;
  r->fault_offset = offset;
  napi_value fn, recv, argv[3], result;
  if (napi_get_reference_value(env, r->on_fault, &fn) != napi_ok || !fn) return;
  napi_get_global(env, &recv);  // napi_make_callback wants an object
  napi_create_double(env, offset, &argv[0]);
  napi_create_double(env, static_cast<double>(r->range().length()) - offset, &argv[1]);
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

bool RegisterFaults(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"faults", FaultsJs, 1},
      {"setFaultCallback", SetFaultCallbackJs, 2},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
