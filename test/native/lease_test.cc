// Unit tests of src/core/lease.cc, the lifetime state machine, built
// without Node: g++ links this file with src/core/ and the platform files
// only (test/native.test.ts), with MEMMAP_DEBUG_CHECKS, so each step the
// table in lease.h does not have aborts. Every case runs on a real
// anonymous range, so "mapped", "quarantined" and "unmapped" are the
// kernel's answers, read from /proc/self/maps, not the class's own.

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include "check.h"
#include "../../src/core/lease.h"

using memmap::Access;
using memmap::Lease;
using memmap::MapOptions;
using S = memmap::Lease::State;


static const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

// A Lease over 4 pages of anonymous memory, holding a pattern, that counts
// its hooks.
class TestLease : public Lease {
 public:
  TestLease() {
    range().Configure(Access::kAnonPrivate, MapOptions(), nullptr, nullptr);
    if (range().MapAnonymous(4 * kPage, false)) std::abort();
    base = range().base();
    std::memset(base, 0x5a, 4 * kPage);
  }
  // Still the pages it mapped, with their bytes.
  bool Intact() const { return !MapsLine(base).empty() && base[0] == 0x5a && base[4 * kPage - 1] == 0x5a; }
  // Mapped by someone (the quarantine's inert memory reads zeros).
  bool Reserved() const { return !MapsLine(base).empty(); }
  bool Zeros() const { return base[0] == 0 && base[4 * kPage - 1] == 0; }

  uint8_t* base = nullptr;
  int unmaps = 0;
  int quarantines = 0;

 protected:
  void BeforeUnmap() override { unmaps++; }
  void AfterQuarantine() override { quarantines++; }
};

// Deletes a lease whose one reference is its maker's.
static void Drop(TestLease* l) {
  if (l->Unref()) delete l;
}

static void TestUnmapNothingHolds() {
  TestLease* l = new TestLease();
  CHECK(l->open() && !l->closed());
  l->BeginClose();
  CHECK(l->state() == S::kClosing && !l->open() && l->closed());
  l->MaybeUnmap();  // the call is under way: the handle still holds it
  CHECK(l->Intact() && l->unmaps == 0 && l->quarantines == 0);
  l->EndClose();
  CHECK(l->state() == S::kGone && !l->Reserved() && l->unmaps == 1 && !l->range().mapped());
  l->MaybeUnmap();
  l->HandleGone();  // the handle's finalizer comes later
  CHECK(l->state() == S::kGone && l->unmaps == 1);
  Drop(l);
}

static void TestUnmapWithStraggler() {
  TestLease* l = new TestLease();
  l->AddHolder();
  l->BeginClose();
  l->EndClose();
  CHECK(l->state() == S::kQuarantined && l->quarantines == 1 && l->unmaps == 0);
  CHECK(l->Reserved() && l->Zeros() && l->range().quarantined());  // inert memory at the same addresses
  l->MaybeUnmap();
  CHECK(l->quarantines == 1 && l->unmaps == 0);
  l->DropHolder();
  CHECK(l->state() == S::kGone && l->unmaps == 1 && !l->Reserved());
  Drop(l);
}

static void TestWorkDefersQuarantine() {
  TestLease* l = new TestLease();
  l->AddHolder();
  l->BeginWork();
  l->BeginClose();
  l->EndClose();
  CHECK(l->state() == S::kClosed && l->Intact() && l->quarantines == 0);  // a flush needs the real pages
  l->EndWork();
  CHECK(l->state() == S::kQuarantined && l->Zeros());
  l->DropHolder();
  CHECK(l->state() == S::kGone && l->unmaps == 1);
  Drop(l);

  // Work alone: unmapped when it ends.
  l = new TestLease();
  l->BeginWork();
  l->BeginWork();
  l->BeginClose();
  l->EndClose();
  l->EndWork();
  CHECK(l->state() == S::kClosed && l->Intact());
  l->EndWork();
  CHECK(l->state() == S::kGone && l->unmaps == 1 && l->quarantines == 0);
  Drop(l);
}

static void TestRelease() {
  TestLease* l = new TestLease();
  l->AddHolder();
  l->BeginRelease();
  CHECK(l->state() == S::kReleasing && !l->open() && !l->closed());
  l->EndRelease();
  // The views live on: the range stays as it is, never quarantined.
  CHECK(l->state() == S::kReleased && l->Intact() && l->quarantines == 0);
  l->DropHolder();
  CHECK(l->state() == S::kGone && l->unmaps == 1 && !l->Reserved());
  Drop(l);

  l = new TestLease();
  l->BeginRelease();
  l->EndRelease();
  CHECK(l->state() == S::kGone && l->unmaps == 1);
  Drop(l);
}

static void TestHandleCollected() {
  TestLease* l = new TestLease();
  l->AddHolder();
  l->AddHolder();
  l->HandleGone();
  CHECK(l->state() == S::kReleased && l->Intact());
  l->DropHolder();
  CHECK(l->Intact());
  l->DropHolder();
  CHECK(l->state() == S::kGone && l->unmaps == 1);
  Drop(l);

  l = new TestLease();
  l->HandleGone();
  CHECK(l->state() == S::kGone && l->unmaps == 1);
  Drop(l);
}

// The raw layer: its Buffer takes over (kReleased), then munmap() closes it.
static void TestRawCloseFromReleased() {
  TestLease* l = new TestLease();
  l->AddHolder();
  l->HandleGone();
  l->BeginClose();
  CHECK(l->state() == S::kClosing && l->Intact());
  l->EndClose();
  CHECK(l->state() == S::kQuarantined && l->Zeros());
  l->DropHolder();
  CHECK(l->state() == S::kGone && l->unmaps == 1);
  Drop(l);
}

static void TestMoveHolders() {
  TestLease* l = new TestLease();
  for (int i = 0; i < 3; i++) l->AddHolder();
  l->MoveHolders(2);  // resize() retired the range they are over
  CHECK(l->holders() == 1);
  l->BeginClose();
  l->EndClose();
  CHECK(l->state() == S::kQuarantined);
  l->DropHolder();
  CHECK(l->state() == S::kGone && l->unmaps == 1);
  Drop(l);
}

static void TestGiveUp() {
  TestLease* l = new TestLease();
  l->GiveUp();
  CHECK(l->state() == S::kGone && l->unmaps == 1 && !l->Reserved());
  Drop(l);
}

static void TestRefs() {
  TestLease* l = new TestLease();
  l->Ref();
  l->Ref();
  CHECK(!l->Unref());
  CHECK(!l->Unref());
  l->GiveUp();
  CHECK(l->Unref());
  delete l;
}

// The last reference gone while the range is mapped (on Bun, moved memory
// outlives its slab's record): the range is abandoned, never unmapped.
static void TestAbandonedAtLastRef() {
  TestLease* l = new TestLease();
  l->AddHolder();
  l->HandleGone();
  uint8_t* base = l->base;
  CHECK(l->Unref());
  delete l;
  CHECK(!MapsLine(base).empty() && base[0] == 0x5a);
  munmap(base, 4 * kPage);
}

// Random walks over the steps JavaScript and the runtime can take, each
// only where the bindings would take it, checked against the rules:
// mapped until gone, quarantined exactly when closed and only stragglers
// hold it, unmapped exactly once, never while something holds it.
static void TestRandomWalks() {
  std::mt19937 rng(24);
  for (int walk = 0; walk < 2000; walk++) {
    TestLease* l = new TestLease();
    for (int step = 0; step < 40 && l->state() != S::kGone; step++) {
      S s = l->state();
      switch (rng() % 8) {
        case 0: if (s == S::kOpen && l->range().mapped()) l->AddHolder(); break;
        case 1: if (l->holders() > 0) l->DropHolder(); break;
        case 2: if (s == S::kOpen) l->BeginWork(); break;
        case 3: if (l->work() > 0) l->EndWork(); break;
        case 4: if (s == S::kOpen) { l->BeginRelease(); l->EndRelease(); } break;
        case 5: if (s == S::kOpen || s == S::kReleased) { l->BeginClose(); l->EndClose(); } break;
        case 6: if (s == S::kOpen || s == S::kReleased || s >= S::kClosed) l->HandleGone(); break;
        case 7: l->MaybeUnmap(); break;
      }
      bool handle = l->state() == S::kOpen;
      bool held = handle || l->work() > 0 || l->holders() > 0;
      CHECK(held == (l->state() != S::kGone));
      CHECK((l->state() == S::kGone) == (l->unmaps == 1) && l->unmaps <= 1);
      if (l->state() == S::kGone) CHECK(!l->Reserved());
      if (l->state() == S::kQuarantined) CHECK(l->work() == 0 && l->holders() > 0 && l->Zeros());
      if (l->state() == S::kClosed) CHECK(l->work() > 0 && l->Intact());
      if (l->state() < S::kClosed) CHECK(l->Intact() && l->quarantines == 0);
    }
    // Let everything go: whatever the state, the range goes exactly once.
    while (l->work() > 0) l->EndWork();
    while (l->holders() > 0) l->DropHolder();
    if (l->state() == S::kOpen) l->HandleGone();
    CHECK(l->state() == S::kGone && l->unmaps == 1 && l->quarantines <= 1);
    Drop(l);
  }
}

// A step the table does not have aborts (MEMMAP_DEBUG_CHECKS): in a child.
static bool Aborts(const std::function<void()>& f) {
  pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stderr);
    f();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void TestIllegalStepsAbort() {
  CHECK(Aborts([] { TestLease* l = new TestLease(); l->EndClose(); }));            // unmap() never began
  CHECK(Aborts([] { TestLease* l = new TestLease(); l->EndRelease(); }));          // release() never began
  CHECK(Aborts([] { TestLease* l = new TestLease(); l->BeginClose(); l->BeginRelease(); }));
  CHECK(Aborts([] { TestLease* l = new TestLease(); l->BeginClose(); l->EndClose(); l->BeginClose(); }));  // unmap() twice
  CHECK(Aborts([] { TestLease* l = new TestLease(); l->DropHolder(); }));          // more drops than adds
  CHECK(Aborts([] { TestLease* l = new TestLease(); l->EndWork(); }));
  CHECK(Aborts([] { TestLease* l = new TestLease(); l->AddHolder(); l->BeginRelease(); l->EndRelease(); l->BeginWork(); }));  // work on a released mapping
  CHECK(Aborts([] { TestLease* l = new TestLease(); l->AddHolder(); l->GiveUp(); }));  // given up while held
  CHECK(Aborts([] { TestLease* l = new TestLease(); l->BeginClose(); l->HandleGone(); }));  // collected during unmap()
  // The legal ones do not (the check is not always failing).
  CHECK(!Aborts([] { TestLease* l = new TestLease(); l->BeginClose(); l->EndClose(); Drop(l); }));
}

int main() {
  TestUnmapNothingHolds();
  TestUnmapWithStraggler();
  TestWorkDefersQuarantine();
  TestRelease();
  TestHandleCollected();
  TestRawCloseFromReleased();
  TestMoveHolders();
  TestGiveUp();
  TestRefs();
  TestAbandonedAtLastRef();
  TestRandomWalks();
  TestIllegalStepsAbort();
  return Summary();
}
