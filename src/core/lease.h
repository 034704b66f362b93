// The lifetime of one mapped range that JavaScript can reach: what holds it
// mapped, and when it is quarantined and given back. This is the rule that
// "no JavaScript call sequence can crash the process" rests on, so all of
// it is here, in one class with no Node-API in it (unit-tested alone by
// test/native/lease_test.cc). The Node-API record of a mapping (JsMapping,
// src/napi/mapping.h) is a Lease; it says what happens around each step
// through the two hooks below.
//
// Three things may hold a range mapped:
//  * the mapping's JavaScript handle, from the map call until unmap(),
//    release() or its collection;
//  * its holders: the slabs (external ArrayBuffers over part of the range,
//    src/napi/slabs.cc) whose objects, or memory moved out of them, may
//    still be reached by someone (a slab holds from its making until
//    src/napi/slabs.cc's Holds() says it cannot be reached any more);
//  * work on its addresses: a flush() or prefetch() on the thread pool, a
//    waitAsync() on a waiter thread.
//
// The states, and the only steps between them (Become() checks each one):
//   kOpen        -> kReleasing    release() begins
//                -> kReleased     the handle was collected; a raw mapping's Buffer took over
//                -> kClosing      unmap() begins
//                -> kGone         GiveUp(): it failed before JavaScript had it
//   kReleasing   -> kReleased     release() ends
//   kReleased    -> kClosing      unmap() of a raw mapping (munmap)
//                -> kGone         nothing holds it any more
//   kClosing     -> kClosed       unmap() ends
//   kClosed      -> kQuarantined  no work of ours on it, but a holder is left
//                -> kGone         nothing holds it any more
//   kQuarantined -> kGone         the last holder went
//
//  * kOpen: the handle holds the range, and JavaScript may call on it.
//  * kReleasing / kClosing: release() / unmap() is under way. JavaScript is
//    refused, but the handle still holds the range, so nothing the call
//    runs meanwhile (a fault callback, a collection) unmaps it under the
//    call.
//  * kReleased: no handle (release(), a handle collected while open, or a
//    raw mapping, which only ever has its Buffer). Its slabs keep the range
//    as it is, and it is unmapped when the last one and the last work go.
//  * kClosed: unmap() detached every slab, so JavaScript cannot reach the
//    range. Straggling holders (a detached ArrayBuffer native code still
//    has, memory moved by transfer()) may: once no work of ours runs on it,
//    the range is quarantined.
//  * kQuarantined: the file is let go and inert anonymous memory sits at
//    the same addresses (MappedRange::Quarantine) until the last holder
//    goes. If it cannot be done, the range stays kClosed, as it was, and
//    the next step tries again.
//  * kGone: unmapped, once, by MaybeUnmap (the only caller of
//    MappedRange::Unmap for a range JavaScript could reach), or never
//    mapped.
//
// The record itself outlives the range while anything refers to it: the
// handle's finalizer, each slab's record, each piece of work (Ref/Unref).
// When the last reference goes with the range still mapped, something this
// process cannot track still uses it (on Bun, memory moved by transfer()
// outlives its slab's record): the range is abandoned, never unmapped.
#pragma once

#include <cstddef>
#include <cstdint>

#include "range.h"

namespace memmap {

class Lease {
 public:
  enum class State : uint8_t { kOpen, kReleasing, kReleased, kClosing, kClosed, kQuarantined, kGone };

  // Open, with one reference: its maker's (the handle's, once it has one).
  Lease() = default;
  // Abandons a range still mapped (see above).
  virtual ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  MappedRange& range() { return range_; }
  const MappedRange& range() const { return range_; }
  State state() const { return state_; }
  // JavaScript may call on the handle.
  bool open() const { return state_ == State::kOpen; }
  // unmap() ran, or is running (or the range is gone).
  bool closed() const { return state_ >= State::kClosing; }

  // Work of ours on the range's addresses: from its queueing to its end
  // (the promise settled). Only on an open mapping.
  void BeginWork();
  void EndWork();  // then MaybeUnmap()
  int work() const { return work_; }

  // Holders of the current range (slabs). A holder is added only while
  // the mapping is open; DropHolder() may come in any state.
  void AddHolder();
  void DropHolder();  // then MaybeUnmap()
  // resize() moved the range away from `n` holders, which keep the old
  // range (retired: src/napi/mapping_pages.cc) rather than this one.
  void MoveHolders(size_t n);
  size_t holders() const { return holders_; }

  // References to the record (not the range). Unref() says whether that
  // was the last: then the caller deletes it.
  void Ref() { refs_++; }
  bool Unref();

  // The transitions (see the diagram above).
  void BeginRelease();  // kOpen -> kReleasing
  void EndRelease();    // kReleasing -> kReleased, then MaybeUnmap()
  void HandleGone();    // kOpen -> kReleased, then MaybeUnmap(); otherwise nothing but MaybeUnmap()
  void BeginClose();    // kOpen or kReleased -> kClosing
  void EndClose();      // kClosing -> kClosed, then MaybeUnmap()
  // A mapping that failed before JavaScript had it (nothing holds it yet):
  // unmapped now.
  void GiveUp();
  // Quarantines or unmaps the range if the state and the counts say so.
  // Touches no JavaScript (it runs inside garbage collection); callable at
  // any time, any number of times.
  void MaybeUnmap();

 protected:
  // Called by MaybeUnmap just before the range is unmapped (the owner lets
  // go what it keeps beside the range), and just after it was quarantined.
  virtual void BeforeUnmap() {}
  virtual void AfterQuarantine() {}

 private:
  bool HandleHolds() const {
    return state_ == State::kOpen || state_ == State::kReleasing || state_ == State::kClosing;
  }
  void Become(State to);

  MappedRange range_;
  State state_ = State::kOpen;
  int work_ = 0;
  size_t holders_ = 0;
  int refs_ = 1;
};

const char* StateName(Lease::State s);

}  // namespace memmap
