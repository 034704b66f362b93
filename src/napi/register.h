// The files that export functions, each registering its own; called by
// src/napi/addon.cc at load.
#pragma once

#include "napi.h"

namespace memmap {

bool RegisterMapping(napi_env env, napi_value exports);       // mapping.cc
bool RegisterMappingPages(napi_env env, napi_value exports);  // mapping_pages.cc
bool RegisterFaults(napi_env env, napi_value exports);        // faults.cc
bool RegisterFiles(napi_env env, napi_value exports);         // files.cc
bool RegisterSlabs(napi_env env, napi_value exports);         // slabs.cc
bool RegisterWork(napi_env env, napi_value exports);          // work.cc
bool RegisterWait(napi_env env, napi_value exports);          // wait.cc
bool RegisterShared(napi_env env, napi_value exports);        // shared.cc
bool RegisterRaw(napi_env env, napi_value exports);           // raw.cc
bool RegisterEnv(napi_env env, napi_value exports);           // env.cc

}  // namespace memmap
