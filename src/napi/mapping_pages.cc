// What a handle can do to its pages: msync, advise, lock, residency, and
// resize(), which grows or shrinks a mapping without moving it from under
// anything that can still reach it.

#include "env.h"
#include "register.h"
#include "slabs.h"

namespace memmap {

// msync(handle, offset, length, async): MS_ASYNC when async, else MS_SYNC
static napi_value MsyncJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RangeArgs ra;
  bool async;
  if (!ParseRange(a, 4, &ra) || !a.Bool(3, &async)) return nullptr;
  if (!CheckNotTruncated(env, ra.mapping, "msync")) return nullptr;
  if (ra.len > 0) {
    SysErr e = os::Sync(ra.addr, ra.len, async, ra.mapping->range().durable_fd());
    if (e) return UndefinedOrThrow(env, e);
  }
  return Undefined(env);
}

// advise(handle, offset, length, name)
static napi_value AdviseJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RangeArgs ra;
  std::string name;
  if (!ParseRange(a, 4, &ra) || !a.String(3, "advice", &name)) return nullptr;
  int advice;
  if (!os::AdviceByName(name, &advice)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                          ("Unknown advice \"" + name + "\"").c_str());
    return nullptr;
  }
  return UndefinedOrThrow(env, ra.mapping->range().Advise(ra.addr, ra.len, advice));
}

// lock(handle, offset, length, lock)
static napi_value LockJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RangeArgs ra;
  bool lock;
  if (!ParseRange(a, 4, &ra) || !a.Bool(3, &lock)) return nullptr;
  return UndefinedOrThrow(env, ra.mapping->range().Lock(ra.addr, ra.len, lock));
}

// residency(handle, offset, length) => Uint8Array, one byte a page
static napi_value ResidencyJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RangeArgs ra;
  if (!ParseRange(a, 3, &ra)) return nullptr;
  uint8_t* p = ra.addr;
  size_t n = ra.len;
  size_t pages = (n + os::PageSize() - 1) / os::PageSize();
  void* data = nullptr;
  napi_value buf;
  CHECK_NAPI(env, napi_create_buffer(env, pages, &data, &buf));
  if (pages > 0) {
    SysErr e = os::Residency(p, n, static_cast<uint8_t*>(data));
    if (e) {
      ThrowSys(env, e);
      return nullptr;
    }
  }
  return buf;
}

// resize(handle, newLength). Views handed out before are detached.
static napi_value ResizeJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  JsMapping* r = a.HandleOf(2);
  int64_t new_length;
  if (!r || !a.Int(1, "newLength", 0, kMaxSafe, &new_length)) {
    return nullptr;
  }
  if (!CheckOpen(env, r)) return nullptr;
  if (r->work() > 0) {
    // Say what is pending: thread-pool work, waits, or both.
    size_t waits = r->waits.size();
    bool work = static_cast<size_t>(r->work()) > waits;
    std::string what = work && waits ? "a flush() or prefetch() is running and a waitAsync() is pending"
                       : work        ? "a flush() or prefetch() is running"
                                     : "a waitAsync() is pending";
    ThrowCode(env, "ERR_MEMMAP_BUSY", "The mapping cannot be resized while " + what + " on it; await it first");
    return nullptr;
  }
  // Windows over the current range may still be held by native code (a
  // thread-pool job with the pointer, memory moved by transfer()): then the
  // range must not move away under them (see MappedRange::Resize). If it does
  // move, the old range is retired: quarantined, and given back when its
  // last slab is collected.
  bool held = r->range().mapped() && r->holders() > 0;
  Retired* t = nullptr;
  if (held && !(t = Allocate<Retired>())) {  // before anything changes
    ThrowNoMemory(env, "mmap");
    return nullptr;
  }
  MappedRange none;  // what an unheld range is never retired into
  Error e = r->range().Resize(static_cast<size_t>(new_length), held, t ? &t->range : &none);
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
      t->holders++;
      Refile(w);
    }
    r->MoveHolders(t->holders);
  }
  ReportMapped(r);
  if (e) {
    ThrowError(env, e);
    return nullptr;
  }
  return Undefined(env);
}

bool RegisterMappingPages(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"msync", MsyncJs, 4},
      {"advise", AdviseJs, 4},
      {"lock", LockJs, 4},
      {"residency", ResidencyJs, 3},
      {"resize", ResizeJs, 2},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
