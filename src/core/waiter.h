// The waits of waitAsync(): on threads of their own, never on libuv's pool,
// so pending waits neither starve fs, crypto or zlib work nor hold up a
// worker's termination or the process's exit. No Node-API here.
//
// One thread waits on one word at a time, for every pending wait on that
// word, and also on a control word of its own that says "look again" (a
// wait added or cancelled). With futex_waitv (Linux 5.16+) it sleeps on
// both at once; elsewhere it waits on the word in slices and looks again
// between them. A thread whose word has no waits left is kept for the next
// word (a few are kept idle; more end).
//
// A wake of the word ends every wait on it ("ok"): waits of one process on
// one word are woken together, as if each had been notified. A wait whose
// word no longer holds its expected value ends as woken too (the value moved
// on while the wait was being armed: its notify may have come first). Both
// are the spurious wakes futex-style waits allow; callers check the value.
#pragma once

#include <cstdint>

#include "../platform/platform.h"

namespace memmap {
namespace waiter {

enum class Outcome { kPending, kWoken, kTimedOut, kFailed };

struct Thread;

struct Wait {
  // Set by the caller before Add().
  const int32_t* word = nullptr;  // must stay mapped until the wait ends or is cancelled
  int32_t expected = 0;
  int64_t deadline_ns = -1;  // on os::MonotonicNs()'s clock; < 0: none
  // Called once when the wait ends, on a waiter thread, under the waiter's
  // lock: it must only hand the wait on (never call Add or Cancel).
  void (*done)(Wait*) = nullptr;
  void* owner = nullptr;
  // Set when it ends.
  Outcome outcome = Outcome::kPending;
  SysErr error;
  // The waiter's own.
  Thread* thread = nullptr;
};

// Starts waiting. Fails only when no thread can be started.
SysErr Add(Wait* w);

// Ends a wait that is still pending: true, and `done` will not be called.
// False when it had ended already (`done` was called).
bool Cancel(Wait* w);

#ifdef MEMMAP_TEST_HOOKS
// The test build makes every wait call of the waiter threads fail (a
// system without a wait primitive that works), and counts the calls made
// since the last switch, so a test can tell a thread that sleeps in slices
// from one that spins. Returns the count.
uint64_t FailWaitsForTest(bool on);
#endif

}  // namespace waiter
}  // namespace memmap
