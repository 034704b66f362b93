// Calls on a range of an open mapping (advise, lock, residency), on a file
// (fileAdvise), and the fault report (faults, setFaultCallback, stats).

#include "internal.h"

namespace memmap {

// advise(handle, offset, length, name)
napi_value AdviseJs(napi_env env, napi_callback_info info) {
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
  return Result(env, ra.region->map.Advise(ra.addr, ra.len, advice));
}

// lock(handle, offset, length, lock)
napi_value LockJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RangeArgs ra;
  bool lock;
  if (!ParseRange(a, 4, &ra) || !a.Bool(3, &lock)) return nullptr;
  return Result(env, ra.region->map.Lock(ra.addr, ra.len, lock));
}

// residency(handle, offset, length) => Uint8Array, one byte a page
napi_value ResidencyJs(napi_env env, napi_callback_info info) {
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

// fileAdvise(path | null, fd, offset, length, advice): posix_fadvise on a
// file, by path (opened read-only for the call) or by descriptor.
napi_value FileAdviseJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(5)) return nullptr;
  std::string path, name;
  bool have_path = !a.IsNull(0);
  int64_t fd_in, offset, length;
  if ((have_path && !a.String(0, "path", &path)) ||
      !a.Int(1, "fd", -1, 0x7fffffff, &fd_in) ||
      !a.Int(2, "offset", 0, kMaxSafe, &offset) ||
      !a.Int(3, "length", 0, kMaxSafe, &length) ||
      !a.String(4, "advice", &name)) {
    return nullptr;
  }
  int advice;
  if (!os::FileAdviceByName(name, &advice)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                          ("Unknown file advice \"" + name + "\"").c_str());
    return nullptr;
  }
  int fd = static_cast<int>(fd_in);
  bool created = false;
  SysErr e;
  if (have_path) {
    e = WithReclaim([&] { return os::OpenFile(path, false, false, 0, &fd, &created); });
  } else if (fd < 0) {
    e = Fail(EBADF, "posix_fadvise");
  }
  if (!e) e = os::FileAdvise(fd, offset, length, advice);
  if (have_path && fd >= 0) os::Close(fd);
  return Result(env, e);
}

// stats() => { live, forcedGcs, slabs (native slab records of this thread),
// reported (bytes this thread's mappings report to V8) } for tests and diagnostics.
napi_value StatsJs(napi_env env, napi_callback_info) {
  napi_value out, live, gcs;
  CHECK_NAPI(env, napi_create_object(env, &out));
  napi_create_double(env, static_cast<double>(Mapping::Live()), &live);
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
  // The mapping budget (src/budget.h).
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

// faults(handle) => number of pages the guard replaced in this mapping.
napi_value FaultsJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Region* r = a.HandleOf(1);
  if (!r) return nullptr;
  napi_value n;
  napi_create_uint32(env, r->map.Faults(), &n);
  return n;
}

// setFaultCallback(handle, fn | null): fn(offset, length, pages) is called
// on this thread after the guard absorbed faults in the mapping.
napi_value SetFaultCallbackJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Region* r = a.HandleOf(2);
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
void ReportFaults(napi_env env, EnvData* envd, Region* r, bool final) {
  uintptr_t first = 0;
  uint32_t n = r->map.Faults(&first);
  if (n <= r->faults_reported || !r->on_fault) return;
  // The bytes that are gone: from the file's new end to the mapping's end
  // (or, for an I/O error, from the first faulting page).
  double offset = r->map.GoneFrom(first);
  if (!final && offset == r->fault_offset) return;  // the same news: wait for a change, or unmap()
  r->faults_reported = n;
  r->fault_offset = offset;
  napi_value fn, recv, argv[3], result;
  if (napi_get_reference_value(env, r->on_fault, &fn) != napi_ok || !fn) return;
  napi_get_global(env, &recv);  // napi_make_callback wants an object
  napi_create_double(env, offset, &argv[0]);
  napi_create_double(env, static_cast<double>(r->map.length()) - offset, &argv[1]);
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

// reserveFile(fd, size): grows the file to `size` bytes, reserving the
// blocks where the file system can (os::Reserve), so that a full disk is
// ENOSPC now and not SIGBUS later. A failure leaves the file's size as it was.
napi_value ReserveFileJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t fd, size;
  if (!a.Need(2) || !a.Int(0, "fd", 0, 0x7fffffff, &fd) || !a.Int(1, "size", 0, kMaxSafe, &size)) {
    return nullptr;
  }
  FileInfo fi;
  SysErr e = os::Stat(static_cast<int>(fd), &fi);
  if (!e && size > fi.size && (e = os::Reserve(static_cast<int>(fd), fi.size, size))) {
    os::Truncate(static_cast<int>(fd), fi.size);
  }
  return Result(env, e);
}

bool RegisterRangeApi(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"advise", AdviseJs, 4},
      {"lock", LockJs, 4},
      {"residency", ResidencyJs, 3},
      {"stats", StatsJs, 0},
      {"fileAdvise", FileAdviseJs, 5},
      {"reserveFile", ReserveFileJs, 2},
      {"faults", FaultsJs, 1},
      {"setFaultCallback", SetFaultCallbackJs, 2},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
