// The safe API's mappings: mapFile, mapAnonymous, unmap, msync.

#include "internal.h"

namespace memmap {

// Makes the handle of a fresh mapping, or undoes it when `e` says it failed.
static napi_value Finish(napi_env env, Region* r, const Error& e) {
  return Settle(env, r, e) ? NewHandle(env, r) : nullptr;
}

// [handle, byteLength], what mapFile() and attach() return.
napi_value HandleAndLength(napi_env env, Region* r, const Error& e) {
  napi_value h = Finish(env, r, e);
  if (!h) return nullptr;
  napi_value out, len;
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &out));
  CHECK_NAPI(env, napi_create_double(env, static_cast<double>(r->map.length()), &len));
  napi_set_element(env, out, 0, h);
  napi_set_element(env, out, 1, len);
  return out;
}

// mapFile(path | null, fd, access, offset, length (-1: to the end),
//         size (-1: none), mode, exec, populate, hugePages, lock)
//   => [handle, byteLength]
napi_value MapFileJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(11)) return nullptr;
  FileRequest req;
  MapOptions opts;
  int64_t fd, access, mode;
  if (!a.IsNull(0)) {
    if (!a.String(0, "path", &req.path)) return nullptr;
    req.have_path = true;
  }
  if (!a.Int(1, "fd", -1, 0x7fffffff, &fd) || !a.Int(2, "access", 0, 2, &access) ||
      !a.Int(3, "offset", 0, kMaxSafe, &req.offset) ||
      !a.Int(4, "length", -1, kMaxSafe, &req.length) ||
      !a.Int(5, "size", -1, kMaxSafe, &req.size) || !a.Int(6, "mode", 0, 07777, &mode) ||
      !a.Bool(7, &opts.exec) || !a.Bool(8, &opts.populate) || !a.Bool(9, &opts.huge_pages) ||
      !a.Bool(10, &req.lock)) {
    return nullptr;
  }
  if (!req.have_path && fd < 0) {
    ThrowType(env, "expected a path or a file descriptor");
    return nullptr;
  }
  req.fd = static_cast<int>(fd);
  req.mode = static_cast<int>(mode);
  Reclaim();
  Region* r = NewRegion(env, static_cast<Access>(access), opts);
  return r ? HandleAndLength(env, r, r->map.MapFile(req)) : nullptr;
}

// mapAnonymous(length, shared, exec, populate, hugePages, lock) => handle
napi_value MapAnonymousJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(6)) return nullptr;
  int64_t length;
  bool shared, lock;
  MapOptions opts;
  if (!a.Int(0, "length", 0, kMaxSafe, &length) || !a.Bool(1, &shared) ||
      !a.Bool(2, &opts.exec) || !a.Bool(3, &opts.populate) || !a.Bool(4, &opts.huge_pages) ||
      !a.Bool(5, &lock)) {
    return nullptr;
  }
  Reclaim();
  Region* r = NewRegion(env, shared ? Access::kAnonShared : Access::kAnonPrivate, opts);
  return r ? Finish(env, r, r->map.MapAnonymous(static_cast<size_t>(length), lock)) : nullptr;
}

// unmap(handle) => boolean (false when it was already closed)
napi_value UnmapJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Region* r = a.HandleOf(1);
  if (!r) return nullptr;
  napi_value result;
  if (r->closed) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  r->closed = true;  // first: the callback below must find the mapping closed
  // Faults not yet told (this tick's, or coalesced ones): told now, before
  // the callback is let go.
  if (r->on_fault && r->map.guarded()) ReportFaults(env, GetEnvData(env), r, true);
  DetachAll(env, r);
  CancelWaits(env, r, WaitEnd::kUnmapped);  // rejected now
  if (r->on_fault) {
    napi_delete_reference(env, r->on_fault);
    r->on_fault = nullptr;
  }
  r->handle_alive = false;
  Error lost = r->map.LostWrites("munmap");
  Release(r);
  if (lost) {
    ThrowError(env, lost);  // unmapped all the same; the caller must learn that writes were lost
    return nullptr;
  }
  napi_get_boolean(env, true, &result);
  return result;
}

// release(handle) => boolean (false when already closed or released): the
// handle gives up its hold on the range without detaching anything, as
// numpy.memmap's array outlives its mmap object. The range is unmapped when
// the last slab over it goes (see Holds in src/slabs.cc). Each slab
// is checked now (moved by transfer()?) and unpinned, so that it can be
// collected; on Bun, where a slab's death says nothing of moved memory,
// a slab that is moved later is the documented exception.
// The views live on, and so may writes through them: the onFault callback,
// if any, is kept (held strongly now that the Mapping may go) and told of
// faults until the range is unmapped (see Release). Like unmap(), release()
// of a "write" mapping whose file was truncated throws ERR_MEMMAP_TRUNCATED,
// released all the same.
napi_value ReleaseJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Region* r = a.HandleOf(1);
  if (!r) return nullptr;
  napi_value result;
  if (r->closed || r->released) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  r->released = true;
  if (r->on_fault && r->map.guarded()) ReportFaults(env, GetEnvData(env), r, true);
  CancelWaits(env, r, WaitEnd::kUnmapped);
  if (r->on_fault) napi_reference_ref(env, r->on_fault, nullptr);
  for (Slab* w = r->slabs; w; w = w->next) Unpin(env, w);
  r->handle_alive = false;
  Error lost = r->map.LostWrites("munmap");
  Release(r);  // unmapped now if no slab holds it
  if (lost) {
    ThrowError(env, lost);
    return nullptr;
  }
  napi_get_boolean(env, true, &result);
  return result;
}

// msync(handle, offset, length, async): MS_ASYNC when async, else MS_SYNC
napi_value MsyncJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RangeArgs ra;
  bool async;
  if (!ParseRange(a, 4, &ra) || !a.Bool(3, &async)) return nullptr;
  if (!CheckNotTruncated(env, ra.region, "msync")) return nullptr;
  if (ra.len > 0) {
    SysErr e = os::Sync(ra.addr, ra.len, async, ra.region->map.durable_fd());
    if (e) return Result(env, e);
  }
  return Undefined(env);
}

bool RegisterMapApi(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"mapFile", MapFileJs, 11},
      {"mapAnonymous", MapAnonymousJs, 6},
      {"unmap", UnmapJs, 1},
      {"release", ReleaseJs, 1},
      {"msync", MsyncJs, 4},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
