// waitAsync() promises, wait() and notify() on a word of a shared mapping
// (src/napi/wait.cc over the waiter threads of src/core/waiter.h).
#pragma once

#include "napi.h"

namespace memmap {

class JsMapping;
struct EnvData;

// How a waitAsync() call ended: by the waiter (woken, timed out, failed),
// by unmap(), or by the collection of its mapping's handle.
enum class WaitEnd { kWaiter, kUnmapped, kCollected };

// Ends the waits of `m` still pending: settled now (with `env`: unmap()),
// or on a later turn (inside GC: the handle's collection).
void CancelWaits(napi_env env, JsMapping* m, WaitEnd end);
// The environment is going: its pending waits end, unsettled.
void CancelEnvWaits(EnvData* envd);
// The thread-safe function's finalizer (its data is the EnvData).
void WaitTsfnFinalize(napi_env, void* data, void*);

}  // namespace memmap
