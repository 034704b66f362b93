// Node-API as the bindings use it: the experimental version, whose basic
// finalizers run synchronously inside the garbage collection (see
// src/napi/mapping.cc). node-gyp defines nothing: every binding includes
// Node-API through this header, and the prebuild scripts that compile
// without node-gyp get the same.
#pragma once

#define NAPI_EXPERIMENTAL
#include <node_api.h>
