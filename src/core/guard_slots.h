// The fault guard's table of registered ranges, shared by the platform
// handlers (guard_posix.cc, guard_win.cc). A fixed array of atomics: the
// handler reads it without a lock or an allocation, which a signal handler
// (and an exception filter that may interrupt any code) requires.
#pragma once

#include <cstddef>
#include <cstdint>

#include "guard.h"

namespace memmap {
namespace guard {

// The slot whose range holds `addr`, or -1.
int Find(uintptr_t addr);
// The range [start, end) of a slot (start 0: free or moving).
void RangeOf(int slot, uintptr_t* start, uintptr_t* end);
// Counts `pages` pages replaced from `page` on in the slot, and wakes its
// owner. `past_end`: they were past the end of the file (it shrank).
void Record(int slot, uintptr_t page, uint32_t pages, bool past_end);
// Whether the slot may still have a fault inside its file answered with
// one page (kSinglePages of them at most): counts the ask.
constexpr uint32_t kSinglePages = 8;
bool TakeSinglePage(int slot);
// The file behind a slot (see SetFile): false when it has none.
bool FileOf(int slot, int* fd, uint64_t* dev, uint64_t* ino, int64_t* offset);
// Whether the raw layer's mprotect() changed the protection of pages of the
// slot's range (see SetUserProtected).
bool UserProtected(int slot);
// Claims a slot for [addr, addr + len); -1 when the table is full.
int AddSlot(void* addr, size_t len, Notify notify, void* arg);
// Whether any slot was ever claimed.
bool AnySlots();

}  // namespace guard
}  // namespace memmap
