// The mapping's handle: making a mapping (mapFile, mapAnonymous), its
// record and cost, the handle's finalizer, and the two calls that end the
// handle's hold: unmap() and release(). When the range may go is decided
// by the Lease each record is (src/core/lease.h); what is done around it
// is here. Argument checking, defaults and error shaping are in TypeScript
// (lib/); the addon still refuses anything it cannot use, with an exception
// and never an abort.
//
// NAPI_EXPERIMENTAL makes Node run the (basic) finalizers synchronously
// inside the garbage collection, rather than on a later turn of the event
// loop. Together with a forced collection when the process nears its
// mapping limit (Reclaim in src/napi/slabs.cc), a synchronous loop that maps
// and drops hundreds of thousands of mappings never reaches vm.max_map_count.

#include "mapping.h"

#include <algorithm>

#include "env.h"
#include "faults.h"
#include "register.h"
#include "shared.h"
#include "slabs.h"
#include "wait.h"

namespace memmap {

// Out of the raw layer's table (raw.cc), if the entry at its base is still
// this mapping's: a range Quarantine lost (os::QuarantineLost) may since
// have been mapped again, by another raw mapping, at the same address.
static void DropRaw(JsMapping* m) {
  if (m->range().access() != Access::kRaw || !m->range().mapped()) return;
  auto it = m->envd->raw.find(reinterpret_cast<uintptr_t>(m->range().base()));
  if (it != m->envd->raw.end() && it->second == m) m->envd->raw.erase(it);
}

// What is kept beside the range goes just before it: the raw table's
// entry, a released mapping's fault callback, the share, the cost told to
// V8. Touches no JavaScript: it runs inside garbage collection.
void JsMapping::BeforeUnmap() {
  DropRaw(this);
  DropFaultCallback(this);
  DropShared(shared_id);
  shared_id = 0;
  Report(this, 0);
}

// Quarantined: the file went, and with it the share; the inert memory costs nothing.
void JsMapping::AfterQuarantine() {
  DropShared(shared_id);
  shared_id = 0;
  Report(this, 0);
}

void DropRef(JsMapping* m) {
  if (!m->Unref()) return;
  DropFaultCallback(m);
  DropRaw(m);  // the record goes: FindRaw must not find it
  EnvData* envd = m->envd;
  envd->mappings.erase(m);
  delete m;  // a range still mapped is abandoned (see Lease::~Lease)
  FreeEnvData(envd);
}

static int64_t ReportedCost(const JsMapping* m) {
  // Anonymous memory is real memory: report all of it, as a Buffer would.
  // File mappings are backed by the page cache, which the kernel can reclaim
  // at will; reporting gigabytes would only make V8 collect without cause.
  // Their scarce resources (mappings, descriptors) are watched by Reclaim().
  int64_t len = static_cast<int64_t>(m->range().map_len());
  if (m->range().anonymous()) return len;
  return std::min<int64_t>(len, 16 << 20) + (64 << 10);
}

void ReportMapped(JsMapping* m) { Report(m, m->range().mapped() ? ReportedCost(m) : 0); }

void Report(JsMapping* m, int64_t bytes) {
  if (m->envd->dead) return;
  int64_t ignored;
  // Callable from a finalizer: it takes a basic env.
  napi_adjust_external_memory(m->envd->env, bytes - m->reported, &ignored);
  m->envd->reported += bytes - m->reported;
  m->reported = bytes;
}

bool AcceptMapped(napi_env env, JsMapping* m, const Error& e) {
  if (e) {
    m->GiveUp();
    DropRef(m);
    ThrowError(env, e);
    return false;
  }
  ReportMapped(m);
  return true;
}

bool CheckFdIntact(napi_env env, const JsMapping* m) {
  if (m->range().fd() < 0 || m->range().FdIntact()) return true;
  ThrowSys(env, Fail(EBADF, "fstat"));  // closed by someone else: nothing to do safely
  return false;
}

// A "write" mapping whose file shrank (or failed, or filled) under it lost
// what was written to the pages the guard replaced: flush() and unmap()
// must say so (MappedRange::LostWrites says how).
bool CheckNotTruncated(napi_env env, const JsMapping* m, const char* syscall) {
  Error lost = m->range().LostWrites(syscall);
  if (!lost) return true;
  ThrowError(env, lost);
  return false;
}

bool CheckOpen(napi_env env, const JsMapping* m) {
  if (!m->open()) {
    ThrowCode(env, "ERR_MEMMAP_CLOSED", "The mapping is closed");
    return false;
  }
  return true;
}

bool ParseRange(Args& a, size_t argc, RangeArgs* out) {
  if (!a.Need(argc)) return false;
  int64_t offset, length;
  out->mapping = a.Handle(0);
  if (!out->mapping || !a.Int(1, "offset", 0, kMaxSafe, &offset) ||
      !a.Int(2, "length", 0, kMaxSafe, &length)) {
    return false;
  }
  if (!CheckOpen(a.env, out->mapping)) return false;
  Error e = out->mapping->range().PageRange(offset, length, &out->addr, &out->len);
  if (e) ThrowError(a.env, e);
  return !e;
}

static void DeleteRef(napi_env env, void* data, void*) {
  napi_delete_reference(env, static_cast<napi_ref>(data));
}

// The handle was collected (inside GC: no JavaScript here).
static void HandleFinalize(node_api_basic_env env, void* data, void*) {
  JsMapping* m = static_cast<JsMapping*>(data);
  if (m->on_fault && m->open()) {  // a released one's goes with the range
    // References can only be deleted outside garbage collection.
    node_api_post_finalizer(env, DeleteRef, m->on_fault, nullptr);
    m->on_fault = nullptr;
  }
  CancelWaits(nullptr, m, WaitEnd::kCollected);  // nobody can notify through this mapping any more
  // Pinned slabs are checked and let go outside the collection (see Pinning in src/napi/slabs.cc).
  for (Slab* w = m->slabs; w; w = w->next) {
    if (!w->pinned) continue;
    m->Ref();
    m->envd->orphans.push(m);
    if (m->envd->async) uv_async_send(m->envd->async);
    break;
  }
  m->HandleGone();
  DropRef(m);
}

static void WakeEnv(void* arg) { uv_async_send(static_cast<uv_async_t*>(arg)); }

JsMapping* NewJsMapping(napi_env env, Access access, const MapOptions& opts) {
  JsMapping* m = Allocate<JsMapping>();
  if (!m) {
    ThrowNoMemory(env, "mmap");
    return nullptr;
  }
  EnvData* envd = GetEnvData(env);
  m->envd = envd;
  // The fault guard wakes this thread after a fault in the range.
  m->range().Configure(access, opts, envd->async ? WakeEnv : nullptr, envd->async);
  envd->mappings.insert(m);
  return m;  // its one reference is dropped by the handle's finalizer (or by the raw layer)
}

napi_value NewHandle(napi_env env, JsMapping* m) {
  napi_value h;
  napi_status s = napi_create_external(env, m, HandleFinalize, nullptr, &h);
  if (s != napi_ok) {
    m->GiveUp();
    DropRef(m);
    ThrowStatus(env, s, "napi_create_external");
    return nullptr;
  }
  return h;
}

napi_value HandleAndLength(napi_env env, JsMapping* m, const Error& e) {
  napi_value h = AcceptMapped(env, m, e) ? NewHandle(env, m) : nullptr;
  if (!h) return nullptr;
  napi_value out, len;
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &out));
  CHECK_NAPI(env, napi_create_double(env, static_cast<double>(m->range().length()), &len));
  napi_set_element(env, out, 0, h);
  napi_set_element(env, out, 1, len);
  return out;
}

// mapFile(path | null, fd, access, offset, length (-1: to the end),
//         size (-1: none), mode, exec, populate, hugePages, lock)
//   => [handle, byteLength]
static napi_value MapFileJs(napi_env env, napi_callback_info info) {
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
  JsMapping* m = NewJsMapping(env, static_cast<Access>(access), opts);
  return m ? HandleAndLength(env, m, m->range().MapFile(req)) : nullptr;
}

// mapAnonymous(length, shared, exec, populate, hugePages, lock) => handle
static napi_value MapAnonymousJs(napi_env env, napi_callback_info info) {
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
  JsMapping* m = NewJsMapping(env, shared ? Access::kAnonShared : Access::kAnonPrivate, opts);
  if (!m || !AcceptMapped(env, m, m->range().MapAnonymous(static_cast<size_t>(length), lock))) return nullptr;
  return NewHandle(env, m);
}

// Faults not yet told (this tick's, or coalesced ones) are told before the
// callback may go, by unmap() and release().
static void TellLastFaults(napi_env env, JsMapping* m) {
  if (m->on_fault && m->range().guarded()) ReportFaults(env, m->envd, m, true);
}

// What unmap() and release() return: true, or the lost writes thrown (the
// step was taken all the same: the caller must learn that writes were lost).
static napi_value TrueOrThrow(napi_env env, const Error& lost) {
  if (lost) {
    ThrowError(env, lost);
    return nullptr;
  }
  napi_value result;
  napi_get_boolean(env, true, &result);
  return result;
}

static napi_value False(napi_env env) {
  napi_value result;
  napi_get_boolean(env, false, &result);
  return result;
}

// unmap(handle) => boolean (false when it was already closed)
static napi_value UnmapJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  JsMapping* m = a.HandleOf(1);
  if (!m) return nullptr;
  if (m->closed()) return False(env);
  m->BeginClose();  // first: the fault callback below must find the mapping closed
  TellLastFaults(env, m);
  DetachAll(env, m);
  CancelWaits(env, m, WaitEnd::kUnmapped);  // rejected now
  if (m->on_fault) {
    napi_delete_reference(env, m->on_fault);
    m->on_fault = nullptr;
  }
  Error lost = m->range().LostWrites("munmap");
  m->EndClose();  // unmapped now, or quarantined if a straggler holds it
  return TrueOrThrow(env, lost);
}

// release(handle) => boolean (false when already closed or released): the
// handle gives up its hold on the range without detaching anything, as
// numpy.memmap's array outlives its mmap object. The range is unmapped when
// the last slab over it goes (see Holds in src/napi/slabs.cc). Each slab
// is checked now (moved by transfer()?) and unpinned, so that it can be
// collected; on Bun, where a slab's death says nothing of moved memory,
// a slab that is moved later is the documented exception.
// The views live on, and so may writes through them: the onFault callback,
// if any, is kept (held strongly now that the JavaScript Mapping may go)
// and told of faults until the range is unmapped (JsMapping::BeforeUnmap).
// Like unmap(), release() of a "write" mapping whose file was truncated
// throws ERR_MEMMAP_TRUNCATED, released all the same.
static napi_value ReleaseJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  JsMapping* m = a.HandleOf(1);
  if (!m) return nullptr;
  if (!m->open()) return False(env);
  m->BeginRelease();
  TellLastFaults(env, m);
  CancelWaits(env, m, WaitEnd::kUnmapped);
  if (m->on_fault) napi_reference_ref(env, m->on_fault, nullptr);
  for (Slab* w = m->slabs; w; w = w->next) Unpin(env, w);
  Error lost = m->range().LostWrites("munmap");
  m->EndRelease();  // unmapped now if no slab holds it
  return TrueOrThrow(env, lost);
}

bool RegisterMapping(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"mapFile", MapFileJs, 11},
      {"mapAnonymous", MapAnonymousJs, 6},
      {"unmap", UnmapJs, 1},
      {"release", ReleaseJs, 1},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
