// The mapping budget: memmap never takes the process to the kernel's limit
// on mappings (Linux's vm.max_map_count, 65,530 by default). At that limit
// every mmap, mprotect, madvise and even munmap that would split a mapping
// fails with ENOMEM, for every part of the process: V8 then dies in its own
// allocator ("Fatal process out of memory"), malloc returns NULL (a
// std::bad_alloc that aborts), a thread cannot get a stack. So memmap keeps
// headroom below the limit for them (kHeadroom below) and refuses what would
// eat into it, with a clean ENOMEM that says so: a new range, a shadow for
// lock(), and advice, locks or protections over part of a range (each may
// split one mapping into three).
//
// Counting. The kernel's count is the number of lines of /proc/self/maps,
// too slow to read at every call once it is long. So the budget keeps the
// count it read last and adds what memmap's own calls may have added since
// (an upper bound: a new range +1, a split +2), and reads it again only when
// that estimate comes near the line. Anonymous ranges that lie side by side
// merge into one kernel mapping and split again when one of them goes (or
// is quarantined): the count read can be far below what memmap's ranges may
// take, so memmap's own live ranges are held to the same line as well.
//
// Where there is no such limit to read (macOS, Windows), there is no budget.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../platform/platform.h"

namespace memmap {
namespace budget {

// Why a budget refusal says ENOMEM: the message lib/ shows with it.
extern const char kMapLimitHint[];

// Before a call that may add up to `n` kernel mappings: Ok, or ENOMEM
// (`syscall` names the call refused) when they would not fit below the
// line. `ranges`: how many of them are new ranges of memmap's (counted
// against the line too, see above). `maybe`: the call adds them only if the
// kernel had merged the range with a neighbour (quarantine), so they are
// counted apart (see Charge).
SysErr Take(size_t n, const char* syscall, size_t ranges = 0, bool maybe = false);
// `n` mappings memmap had asked for went (a waiter thread's stack).
void Gone(size_t n);
// A range that may merge with its neighbours in the kernel (a mapping of a
// file description that other ranges share: map(fd), the raw layer) can
// cost more than it looks, at any time: the fault guard replacing part of
// it splits the merged mapping. Reserve keeps `n` for it, counted until
// Unreserve, whatever readings say.
SysErr Reserve(size_t n, const char* syscall);
void Unreserve(size_t n);
// One of memmap's ranges was unmapped. Its own kernel mapping went, unless
// the kernel had merged it with a neighbour: then unmapping it split that
// one, which may have added a mapping (counted as maybe, trusted up to half
// the headroom; past that the next Take reads the count again). The next
// refusal reads the count too (until then, a refused call is refused again
// without reading it).
void Unmapped();
// The fault guard's Take: lock-free, allocation-free and without reading
// /proc (async-signal-safe). False when there is no room for `n` more.
bool TakeInHandler(size_t n);
// Reads the count again if the estimate is near the line, so that the
// guard's estimate (which only grows) comes back down. Called on the JS
// thread after the guard woke it.
void Refresh();
// Whether a failed call should collect garbage and try again (see
// WithReclaim in src/core/range.h): for a refusal of the budget, the first
// refusal after a change, and then at exponentially spaced refusals, so
// that a loop that holds every mapping and keeps asking is refused quickly;
// for the kernel's own ENOMEM, only when the process is not at the kernel's
// limit (a collection then needs mappings V8 may not get).
bool MayReclaim(const SysErr& e);

struct Stats {
  int64_t limit = 0;     // vm.max_map_count; 0: no budget
  int64_t line = 0;      // what memmap lets the process reach
  int64_t counted = 0;   // the count at the last reading of /proc
  int64_t estimate = 0;  // that, plus what memmap may have added since (and what it reserved)
  uint64_t readings = 0; // readings of /proc/self/maps
  uint64_t refusals = 0;
};
Stats Read();


}  // namespace budget
}  // namespace memmap
