// Thread-pool work on a range: flush (msync MS_SYNC) and prefetch.

#include "env.h"
#include "mapping.h"
#include "register.h"

namespace memmap {

enum class WorkKind { kFlush, kPrefetch };

struct Work {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  JsMapping* mapping = nullptr;
  uint8_t* addr = nullptr;
  size_t len = 0;
  int durable_fd = -1;  // read on the JavaScript thread: the pool thread touches no record
  WorkKind kind = WorkKind::kFlush;
  SysErr result;
};

static void WorkExecute(napi_env, void* data) {
  Work* w = static_cast<Work*>(data);
  if (w->len == 0) return;
  w->result = w->kind == WorkKind::kFlush ? os::Sync(w->addr, w->len, false, w->durable_fd) : os::Populate(w->addr, w->len);
}

static void WorkComplete(napi_env env, napi_status status, void* data) {
  Work* w = static_cast<Work*>(data);
  JsMapping* r = w->mapping;
  Error lost = status == napi_ok && !w->result && w->kind == WorkKind::kFlush ? r->range().LostWrites("msync") : Error();
  if (lost) {
    napi_reject_deferred(env, w->deferred, MakeError(env, lost));
  } else if (status == napi_ok && !w->result) {
    napi_resolve_deferred(env, w->deferred, Undefined(env));
  } else {
    SysErr e = w->result ? w->result : Fail(ECANCELED, w->kind == WorkKind::kFlush ? "msync" : "madvise");
    napi_value err = MakeSysError(env, e);
    napi_reject_deferred(env, w->deferred, err ? err : Undefined(env));
  }
  if (w->work) napi_delete_async_work(env, w->work);
  r->EndWork();  // unmap() may have been waiting for this work
  DropRef(r);
  delete w;
}

static napi_value QueueWork(napi_env env, napi_callback_info info, WorkKind kind) {
  Args a(env, info);
  RangeArgs ra;
  if (!ParseRange(a, 3, &ra)) return nullptr;
  JsMapping* r = ra.mapping;
  if (kind == WorkKind::kFlush && !CheckNotTruncated(env, r, "msync")) return nullptr;
  Work* w = Allocate<Work>();
  if (!w) {
    ThrowNoMemory(env, kind == WorkKind::kFlush ? "msync" : "madvise");
    return nullptr;
  }
  w->kind = kind;
  w->mapping = r;
  w->addr = ra.addr;
  w->len = ra.len;
  w->durable_fd = r->range().durable_fd();
  napi_value promise, name;
  napi_status s = napi_create_promise(env, &w->deferred, &promise);
  if (s == napi_ok) {
    napi_create_string_utf8(env, kind == WorkKind::kFlush ? "memmap.flush" : "memmap.prefetch",
                            NAPI_AUTO_LENGTH, &name);
    s = napi_create_async_work(env, nullptr, name, WorkExecute, WorkComplete, w,
                               &w->work);
  }
  if (s == napi_ok) s = napi_queue_async_work(env, w->work);
  if (s != napi_ok) {
    if (w->work) napi_delete_async_work(env, w->work);
    delete w;
    ThrowStatus(env, s, "napi_queue_async_work");
    return nullptr;
  }
  r->BeginWork();
  r->Ref();
  return promise;
}

static napi_value FlushJs(napi_env env, napi_callback_info info) {
  return QueueWork(env, info, WorkKind::kFlush);
}

static napi_value PrefetchJs(napi_env env, napi_callback_info info) {
  return QueueWork(env, info, WorkKind::kPrefetch);
}

bool RegisterWork(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"flush", FlushJs, 3},
      {"prefetch", PrefetchJs, 3},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
