// Lease: every step of a mapped range's lifetime (the rules are in
// src/core/lease.h). Builds with MEMMAP_DEBUG_CHECKS (the C++ unit tests
// and the test addon) check each step and abort on one the table does not
// have: a bug of ours, caught where it happens rather than as a fault later.

#include "lease.h"

#include <cstdio>
#include <cstdlib>

namespace memmap {

#ifdef MEMMAP_DEBUG_CHECKS
#define LEASE_CHECK(cond, what)                                                         \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "memmap: lease check failed: %s (%s) in state %s\n", what, #cond, \
                   StateName(state_));                                                  \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
#else
#define LEASE_CHECK(cond, what) \
  do {                          \
  } while (0)
#endif

const char* StateName(Lease::State s) {
  switch (s) {
    case Lease::State::kOpen: return "open";
    case Lease::State::kReleasing: return "releasing";
    case Lease::State::kReleased: return "released";
    case Lease::State::kClosing: return "closing";
    case Lease::State::kClosed: return "closed";
    case Lease::State::kQuarantined: return "quarantined";
    case Lease::State::kGone: return "gone";
  }
  return "?";
}

// Whether the table in lease.h has the step `from` -> `to`.
[[maybe_unused]] static bool Allowed(Lease::State from, Lease::State to) {
  using S = Lease::State;
  switch (from) {
    case S::kOpen: return to == S::kReleasing || to == S::kReleased || to == S::kClosing || to == S::kGone;
    case S::kReleasing: return to == S::kReleased;
    case S::kReleased: return to == S::kClosing || to == S::kGone;
    case S::kClosing: return to == S::kClosed;
    case S::kClosed: return to == S::kQuarantined || to == S::kGone;
    case S::kQuarantined: return to == S::kGone;
    case S::kGone: return false;
  }
  return false;
}

void Lease::Become(State to) {
  LEASE_CHECK(Allowed(state_, to), StateName(to));
  state_ = to;
}

Lease::~Lease() {
  LEASE_CHECK(refs_ == 0, "deleted while referred to");
  if (range_.mapped()) range_.Abandon();
}

bool Lease::Unref() {
  LEASE_CHECK(refs_ > 0, "unref");
  return --refs_ == 0;
}

void Lease::BeginWork() {
  LEASE_CHECK(state_ == State::kOpen, "work begins");
  work_++;
}

void Lease::EndWork() {
  LEASE_CHECK(work_ > 0, "work ends");
  work_--;
  MaybeUnmap();
}

void Lease::AddHolder() {
  LEASE_CHECK(state_ == State::kOpen && range_.mapped(), "holder added");
  holders_++;
}

void Lease::DropHolder() {
  LEASE_CHECK(holders_ > 0, "holder dropped");
  holders_--;
  MaybeUnmap();
}

void Lease::MoveHolders(size_t n) {
  LEASE_CHECK(n <= holders_, "holders moved");
  holders_ -= n;
}

void Lease::BeginRelease() { Become(State::kReleasing); }

void Lease::EndRelease() {
  LEASE_CHECK(state_ == State::kReleasing, "release() ends");
  Become(State::kReleased);
  MaybeUnmap();
}

void Lease::HandleGone() {
  LEASE_CHECK(state_ != State::kReleasing && state_ != State::kClosing, "handle gone during a call on it");
  if (state_ == State::kOpen) Become(State::kReleased);
  MaybeUnmap();
}

void Lease::BeginClose() { Become(State::kClosing); }

void Lease::EndClose() {
  LEASE_CHECK(state_ == State::kClosing, "unmap() ends");
  Become(State::kClosed);
  MaybeUnmap();
}

void Lease::GiveUp() {
  LEASE_CHECK(holders_ == 0 && work_ == 0, "given up while held");
  Become(State::kGone);
  BeforeUnmap();
  range_.Unmap();
}

void Lease::MaybeUnmap() {
  if (state_ == State::kGone) return;
  if (HandleHolds() || work_ > 0 || holders_ > 0) {
    // Only stragglers can reach a closed range: the file goes now, the
    // addresses when they do. Never under work of ours, which needs the
    // real pages (a flush writes them to the file).
    if (state_ == State::kClosed && work_ == 0 && range_.Quarantine()) {
      Become(State::kQuarantined);
      AfterQuarantine();
    }
    return;
  }
  Become(State::kGone);
  BeforeUnmap();
  range_.Unmap();
}

}  // namespace memmap
