// Shared memory across threads and processes: share()/attach(), named
// objects, a mapping's descriptor (src/napi/shared.cc).
#pragma once

#include <cstdint>

namespace memmap {

// A mapping of a shared object goes: the object's descriptor closes with its last mapping.
void DropShared(uint64_t id);

}  // namespace memmap
