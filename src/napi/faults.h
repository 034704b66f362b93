// Faults the guard absorbed in a mapping, told to JavaScript: the onFault
// callback, faults() (src/napi/faults.cc).
#pragma once

#include "napi.h"

namespace memmap {

class JsMapping;
struct EnvData;

// Tells `m`'s onFault callback of new faults (coalesced); with `final`
// (unmap(), release()), of any pages counted since the last call.
void ReportFaults(napi_env env, EnvData* envd, JsMapping* m, bool final);
// A released mapping's fault callback, held strongly since release(), goes
// with its range (deleted later, outside any collection: OnFaultWake).
void DropFaultCallback(JsMapping* m);

}  // namespace memmap
