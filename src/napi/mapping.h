// A mapping as JavaScript holds it (JsMapping): its range and lifetime (a
// Lease, src/core/lease.h), and what the bindings keep beside them: the
// thread it belongs to, its slabs, waits, fault callback and share. Made by
// map, mapAnonymous, attach and the raw layer; its handle is an external
// whose finalizer lets the range go (src/napi/mapping.cc).
#pragma once

#include "napi.h"

#include <cstdint>
#include <vector>

#include "../core/lease.h"
#include "util.h"

namespace memmap {

struct EnvData;
struct Slab;
struct AsyncWait;

class JsMapping final : public Lease {
 public:
  EnvData* envd = nullptr;
  int64_t reported = 0;          // bytes reported to V8 as external memory
  Slab* raw_slab = nullptr;      // the one slab of a raw mapping
  uint32_t faults_reported = 0;  // pages counted in the last onFault call
  double fault_offset = -1;      // the gone range's start in that call
  napi_ref on_fault = nullptr;   // JavaScript callback for faults, if any
  uint64_t shared_id = 0;        // in the shared-memory registry (share/attach)
  std::vector<AsyncWait*> waits;  // waitAsync() calls pending on this range
  JsMapping* next_orphan = nullptr;  // in envd->orphans, once its handle was collected with pinned slabs
  // Its slabs not yet freed are on at most one of these lists (see Refile
  // in src/napi/slabs.cc), so that no walk visits a slab that has nothing
  // to do there: one made by a loop that never yields waits for a later
  // turn to be freed.
  Slab* slabs = nullptr;  // JavaScript may reach them: neither detached by us nor collected (DetachAll's list)
  Slab* held = nullptr;   // the others that still hold the current range (what resize() hands to a Retired)

 protected:
  void BeforeUnmap() override;
  void AfterQuarantine() override;
};

// The record of a mapping about to be made, or nullptr with ENOMEM thrown.
JsMapping* NewJsMapping(napi_env env, Access access, const MapOptions& opts);
// After a fresh mapping was made (or failed to be, as `e` says): reports
// its cost, or gives it up and throws. Returns whether it stands.
bool AcceptMapped(napi_env env, JsMapping* m, const Error& e);
// The handle of an accepted mapping (nullptr, given up, if it cannot be made).
napi_value NewHandle(napi_env env, JsMapping* m);
// [handle, byteLength], what mapFile() and attach() return.
napi_value HandleAndLength(napi_env env, JsMapping* m, const Error& e);
// Drops a reference to the record; the last one deletes it.
void DropRef(JsMapping* m);

// Tells V8 what the range costs now (after a map or a resize).
void ReportMapped(JsMapping* m);
void Report(JsMapping* m, int64_t bytes);

// Checks that throw and say false.
bool CheckOpen(napi_env env, const JsMapping* m);
bool CheckFdIntact(napi_env env, const JsMapping* m);
bool CheckNotTruncated(napi_env env, const JsMapping* m, const char* syscall);
// (handle, offset, length, ...) on an open mapping, the range checked and
// widened to whole pages.
bool ParseRange(Args& a, size_t argc, RangeArgs* out);

}  // namespace memmap
