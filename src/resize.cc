// resize(): grow or shrink a mapping without moving it from under anything
// that can still reach it.

#include "internal.h"

namespace memmap {

// resize(handle, newLength). Views handed out before are detached.
napi_value ResizeJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Region* r = a.HandleOf(2);
  int64_t new_length;
  if (!r || !a.Int(1, "newLength", 0, kMaxSafe, &new_length)) {
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
  // Windows over the current range may still be held by native code (a
  // thread-pool job with the pointer, memory moved by transfer()): then the
  // range must not move away under them (see Mapping::Resize). If it does
  // move, the old range is retired: quarantined, and given back when its
  // last slab is collected.
  bool held = r->map.mapped() && r->holding > 0;
  Retired* t = nullptr;
  if (held && !(t = Allocate<Retired>())) {  // before anything changes
    ThrowNoMemory(env, "mmap");
    return nullptr;
  }
  Mapping none;  // what an unheld range is never retired into
  Error e = r->map.Resize(static_cast<size_t>(new_length), held, t ? &t->range : &none);
  if (t && !t->range.mapped()) {
    delete t;
    t = nullptr;
  }
  if (!e || t) DetachAll(env, r);  // views handed out before see the old length
  if (t) {
    // Every slab over the old range: DetachAll moved the ones JavaScript
    // could reach to `held`, where the others already were.
    while (Slab* w = r->held) {
      r->envd->walked++;
      w->retired = t;
      t->holding++;
      Refile(w);
    }
    r->holding -= t->holding;
  }
  ReportMapped(r);
  if (e) {
    ThrowError(env, e);
    return nullptr;
  }
  return Undefined(env);
}

bool RegisterResize(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"resize", ResizeJs, 2},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
