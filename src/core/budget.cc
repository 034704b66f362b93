// The mapping budget (src/core/budget.h).
#include "../platform/glibc_compat.h"  // first: std::call_once is pthread_once, pinned to its oldest version
#include "budget.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>

#include "range.h"

namespace memmap {
namespace budget {

const char kMapLimitHint[] =
    "the process is near the kernel's limit on memory mappings (vm.max_map_count), and memmap keeps the rest "
    "for the JavaScript engine, malloc and thread stacks: unmap() mappings no longer needed, or raise the "
    "limit (sysctl -w vm.max_map_count=262144)";

namespace {

// What is kept for everything else in the process: an eighth of the limit
// (8,191 of the default 65,530), at least 1,024; half of a small limit.
int64_t LineFor(int64_t limit) {
  if (limit <= 0) return 0;
  if (limit < 4096) return limit / 2;
  return limit - std::max<int64_t>(limit / 8, 1024);
}

std::once_flag g_once;
int64_t g_limit = 0;
std::atomic<int64_t> g_line{0};
std::atomic<int64_t> g_slack{0};       // how many "may have" mappings are trusted between readings
std::atomic<int64_t> g_counted{0};     // the count at the last reading
// What memmap's calls added since, in two parts: what they surely added
// (new ranges, splits asked for), net of ranges given back, and what they
// may have added (a range given back or quarantined splits a mapping the
// kernel merged it into; most were not merged, and then it added nothing).
std::atomic<int64_t> g_surely{0};
std::atomic<int64_t> g_maybe{0};
// What ranges that may merge with a neighbour may still cost (Reserve): kept
// across readings, since they are not in the count until they happen.
std::atomic<int64_t> g_reserved{0};
static_assert(std::atomic<int64_t>::is_always_lock_free, "the fault guard reads these in a signal handler");
std::atomic<int64_t> g_next_read{0};   // the estimate at which to read again
std::atomic<uint64_t> g_readings{0};
std::atomic<uint64_t> g_refusals{0};
std::atomic<bool> g_freed{false};      // something may have been given back since the last refusal
std::mutex g_mutex;                    // one reading at a time
bool g_stuck = false;                  // the last reading refused (under g_mutex)
// MayReclaim's back-off: refusals since a range was made or given back, and
// the count at which the next collection comes.
std::atomic<uint64_t> g_refused_since{0};
std::atomic<uint64_t> g_next_gc_at{1};

void Init() {
  std::call_once(g_once, [] {
    g_limit = static_cast<int64_t>(os::MaxMapCount());
    g_line = LineFor(g_limit);
    // Half the headroom: what the "may have" mappings can cost before they
    // are counted, leaving the other half to V8 and malloc.
    g_slack = g_limit > 0 ? (g_limit - g_line) / 2 : 0;
  });
}

int64_t Surely() { return g_counted.load() + g_surely.load() + g_reserved.load(); }
int64_t Estimate() { return Surely() + g_maybe.load(); }

// Whether `want` more fit without reading /proc: what was surely added is
// under the mark set at the last reading (half-way to the line: readings
// catch what the rest of the process mapped meanwhile), and with what may
// have been added too, the estimate is under the line plus the slack. A
// loop that maps and unmaps near the line so reads /proc once per slack/4
// rounds or so, not at every call, and in the worst case the process is
// still half the headroom below the kernel's limit.
bool FitsUnread(int64_t want) {
  return Surely() + want <= g_next_read.load() && Estimate() + want <= g_line.load() + g_slack.load();
}

// The same after a reading: under the line.
bool Fits(int64_t want) {
  return Surely() + want <= g_line.load() && Estimate() + want <= g_line.load() + g_slack.load();
}

// Reads the count (under g_mutex). Where it cannot be read (no /proc, no
// descriptor left), the estimate stands.
void ReadCount() {
  // What is added while the kernel lists the mappings may be missing from
  // the list: only what was there before is taken out of the estimate.
  int64_t surely = g_surely.load();
  int64_t maybe = g_maybe.load();
  int64_t n = os::CountMappings();
  g_readings++;
  if (n < 0) return;
  g_counted = n;
  g_surely -= surely;
  g_maybe -= maybe;
  // Read again when half of what is left is used: a few readings, each
  // cheap while the count is small, on the way to the line. What is
  // reserved counts as used (Surely() includes it).
  int64_t used = n + g_reserved.load();
  g_next_read = used + std::max<int64_t>((g_line.load() - used) / 2, 1);
}

}  // namespace

SysErr Take(size_t n, const char* syscall, size_t ranges, bool maybe) {
  Init();
  if (g_line.load() <= 0) return Ok();
  int64_t line = g_line.load();
  auto refuse = [&] {
    g_refusals++;
    g_refused_since++;
    SysErr e = Fail(ENOMEM, syscall);
    e.hint = kMapLimitHint;
    return e;
  };
  // memmap's own ranges, each of which may come to be a mapping of its own
  // (or three, where reserved).
  if (ranges > 0 && static_cast<int64_t>(MappedRange::Live() + ranges) + g_reserved.load() > line) return refuse();
  int64_t want = static_cast<int64_t>(n);
  std::atomic<int64_t>& part = maybe ? g_maybe : g_surely;
  if (FitsUnread(want)) {
    part += want;
    if (ranges > 0) g_refused_since = 0;
    return Ok();
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  // Refused before, and nothing may have been given back since: refused
  // again, without reading /proc (a loop that keeps asking at the line
  // stays cheap).
  bool freed = g_freed.exchange(false);
  if (!(g_stuck && !freed) && !FitsUnread(want)) ReadCount();
  if (!Fits(want)) {
    g_stuck = true;
    return refuse();
  }
  g_stuck = false;
  part += want;
  if (ranges > 0) g_refused_since = 0;
  return Ok();
}

void Gone(size_t n) {
  Init();
  if (g_line.load() > 0) g_surely -= static_cast<int64_t>(n);
}

SysErr Reserve(size_t n, const char* syscall) {
  Init();
  if (g_line.load() <= 0) return Ok();
  if (SysErr e = Take(n, syscall)) return e;
  // Moved from what was added to what is reserved: it stays counted after
  // the next reading.
  g_surely -= static_cast<int64_t>(n);
  g_reserved += static_cast<int64_t>(n);
  return Ok();
}

void Unreserve(size_t n) {
  Init();
  if (g_line.load() > 0) g_reserved -= static_cast<int64_t>(n);
}

void Unmapped() {
  Init();
  if (g_line.load() > 0) {
    g_surely -= 1;
    g_maybe += 2;
  }
  g_freed = true;
  g_refused_since = 0;
  g_next_gc_at = 1;
}

bool TakeInHandler(size_t n) {
  if (g_line.load(std::memory_order_relaxed) <= 0) return true;
  int64_t want = static_cast<int64_t>(n);
  if (!Fits(want)) return false;
  g_surely += want;
  return true;
}

void Refresh() {
  Init();
  if (g_line.load() <= 0 || FitsUnread(0)) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!FitsUnread(0)) ReadCount();
}

bool MayReclaim(const SysErr& e) {
  Init();
  if (e.hint == kMapLimitHint) {
    // The refusals since the last change: collect at the 1st, 2nd, 4th,
    // 8th... A collection then frees what was dropped; one that would free
    // nothing is not repeated at every call.
    uint64_t k = g_refused_since.load();
    uint64_t at = g_next_gc_at.load();
    if (k < at) return false;
    g_next_gc_at = std::max<uint64_t>(at * 2, k + 1);
    // The collection may give back what is not memmap's (V8's pages,
    // WebAssembly memories): the retry reads the count again.
    g_freed = true;
    return true;
  }
  if (e.err != ENOMEM || g_limit <= 0) return true;
  // The kernel's ENOMEM: at its mapping limit, a collection would need
  // mappings that V8 may not get (its own allocations then end the process).
  int64_t n = os::CountMappings();
  return n >= 0 && n < g_limit - 64;
}

Stats Read() {
  Init();
  Stats s;
  s.limit = g_limit;
  s.line = g_line.load();
  s.counted = g_counted.load();
  s.estimate = Estimate();
  s.readings = g_readings.load();
  s.refusals = g_refusals.load();
  return s;
}


}  // namespace budget
}  // namespace memmap
