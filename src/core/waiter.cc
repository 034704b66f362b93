// See waiter.h.
#include "waiter.h"

#include "budget.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <mutex>
#include <new>
#include <vector>

namespace memmap {
namespace waiter {

struct Thread {
  const int32_t* word = nullptr;  // nullptr: idle
  std::vector<Wait*> waits;       // pending on `word`, in arrival order
  int32_t control = 0;            // bumped and woken to make the thread look again
};

namespace {

// Guards every Thread and every pending Wait. Allocated once and never
// destroyed: exit() runs static destructors while waiter threads, and on
// Deno workers' JavaScript, may still be in Add, Cancel or Run.
std::mutex& g_mutex = *new std::mutex();
std::vector<Thread*>& g_threads = *new std::vector<Thread*>();
size_t g_idle = 0;
constexpr size_t kMaxIdle = 4;
// Without futex_waitv, how long a thread sleeps on its word before it looks
// at its control word again.
constexpr int64_t kSliceNs = 50 * 1000000LL;
// Whether futex_waitv works: -1 not known yet, 0 no, 1 yes.
std::atomic<int> g_multi{-1};

int32_t Load(const int32_t* p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }

#ifdef MEMMAP_TEST_HOOKS
std::atomic<bool> g_fail_for_test{false};
std::atomic<uint64_t> g_calls_for_test{0};
#endif

// The wait calls, through the test build's switch (FailWaitsForTest).
SysErr WaitOne(int32_t* word, int32_t value, int64_t timeout_ns, int* outcome) {
#ifdef MEMMAP_TEST_HOOKS
  g_calls_for_test++;
  if (g_fail_for_test) return Fail(ENOSYS, "futex");
#endif
  // Unread: the word's mapping may be unmapped while this thread sleeps
  // (unmap() cancels the waits under g_mutex, which this call runs without).
  return os::WaitOnAddressUnread(word, value, timeout_ns, outcome);
}

SysErr WaitMany(const os::WaitTarget* targets, size_t n, int64_t deadline, int* woken) {
#ifdef MEMMAP_TEST_HOOKS
  if (g_fail_for_test) return Fail(ENOSYS, "futex_waitv");
#endif
  return os::WaitOnAny(targets, n, deadline, woken);
}

void Poke(Thread* t) {
  __atomic_add_fetch(&t->control, 1, __ATOMIC_SEQ_CST);
  int woken = 0;
  os::WakeAddress(&t->control, INT_MAX, &woken);
}

// Ends the waits of `t` that `ends` picks, with `outcome`. Under g_mutex.
template <typename Pred>
void End(Thread* t, Outcome outcome, const SysErr& error, Pred ends) {
  auto keep = std::stable_partition(t->waits.begin(), t->waits.end(), [&](Wait* w) { return !ends(w); });
  std::vector<Wait*> ended(keep, t->waits.end());
  t->waits.erase(keep, t->waits.end());
  for (Wait* w : ended) {
    w->thread = nullptr;
    w->outcome = outcome;
    w->error = error;
    w->done(w);
  }
}

// Sleeps until the word is woken, the control word changes, the deadline
// passes or a slice ends. Without g_mutex. Returns whether the word was woken.
bool Sleep(Thread* t, const int32_t* word, int32_t value, int32_t control, int64_t deadline, SysErr* error) {
  if (g_multi != 0) {
    os::WaitTarget targets[2];
    targets[0].addr = &t->control;
    targets[0].expected = control;
    targets[1].addr = word;  // last: futex_waitv reports the last woken target
    targets[1].expected = value;
    int woken = -1;
    SysErr e = WaitMany(targets, 2, deadline, &woken);
    if (!e) {
      g_multi = 1;
      return woken == 1;
    }
    if (e.err != ENOSYS) {
      g_multi = 1;
      if (e.err != EAGAIN && e.err != ETIMEDOUT && e.err != EINTR) *error = e;
      return false;
    }
    g_multi = 0;  // Linux before 5.16, macOS: slices from now on
  }
  int64_t slice = kSliceNs;
  if (deadline >= 0) slice = std::max<int64_t>(0, std::min(slice, deadline - os::MonotonicNs()));
  int outcome = 0;
  SysErr e = WaitOne(const_cast<int32_t*>(word), value, slice, &outcome);
  if (e.err == ENOSYS || e.err == ENOTSUP) {
    // No wait call that works (macOS without os_sync or ulock): the word
    // is looked at again after each slice, never spun on.
    os::SleepNs(slice);
    return false;
  }
  if (e) *error = e;  // a real error ends the waits with it
  return !e && outcome == 0;
}

void Run(void* arg) {
  Thread* t = static_cast<Thread*>(arg);
  std::unique_lock<std::mutex> lock(g_mutex);
  for (;;) {
    if (t->waits.empty()) {
      t->word = nullptr;
      if (g_idle >= kMaxIdle) break;
      g_idle++;
      int32_t seen = t->control;
      lock.unlock();
      int outcome = 0;
      if (WaitOne(&t->control, seen, -1, &outcome)) os::SleepNs(kSliceNs);  // never a spin
      lock.lock();
      g_idle--;
      continue;
    }
    const int32_t* word = t->word;
    int32_t value = Load(word);
    int64_t now = os::MonotonicNs();
    // The value moved on since a wait looked: woken. Past its deadline: timed out.
    End(t, Outcome::kWoken, Ok(), [&](Wait* w) { return w->expected != value; });
    End(t, Outcome::kTimedOut, Ok(), [&](Wait* w) { return w->deadline_ns >= 0 && w->deadline_ns <= now; });
    if (t->waits.empty()) continue;
    int64_t deadline = -1;
    for (Wait* w : t->waits) {
      if (w->deadline_ns >= 0 && (deadline < 0 || w->deadline_ns < deadline)) deadline = w->deadline_ns;
    }
    int32_t control = t->control;
    lock.unlock();
    SysErr error;
    bool woken = Sleep(t, word, value, control, deadline, &error);
    lock.lock();
    if (t->word != word) continue;  // all its waits were cancelled meanwhile
    if (woken) {
      End(t, Outcome::kWoken, Ok(), [](Wait*) { return true; });
    } else if (error) {
      End(t, Outcome::kFailed, error, [](Wait*) { return true; });
    }
  }
  g_threads.erase(std::find(g_threads.begin(), g_threads.end(), t));
  lock.unlock();
  delete t;
  budget::Gone(2);  // its stack goes as it returns
}

}  // namespace

SysErr Add(Wait* w) {
  std::lock_guard<std::mutex> lock(g_mutex);
  Thread* t = nullptr;
  Thread* idle = nullptr;
  for (Thread* c : g_threads) {
    if (c->word == w->word) {
      t = c;
      break;
    }
    if (!c->word && !idle) idle = c;
  }
  if (!t && idle) {
    t = idle;
    t->word = w->word;
  }
  if (!t) {
    // A thread's stack and its guard page are two kernel mappings: asked of
    // the mapping budget (src/core/budget.h) like any other, given back when the
    // thread ends.
    if (SysErr refused = budget::Take(2, "pthread_create")) return refused;
    t = new (std::nothrow) Thread();  // no abort when memory ran out: the wait fails instead
    if (!t) {
      budget::Gone(2);
      return Fail(ENOMEM, "pthread_create");
    }
    t->word = w->word;
    SysErr e = os::StartThread(Run, t);
    if (e) {
      delete t;
      budget::Gone(2);
      return e;
    }
    g_threads.push_back(t);
  }
  w->outcome = Outcome::kPending;
  w->thread = t;
  t->waits.push_back(w);
  Poke(t);
  return Ok();
}

#ifdef MEMMAP_TEST_HOOKS
uint64_t FailWaitsForTest(bool on) {
  g_fail_for_test = on;
  if (!on) g_multi = -1;  // futex_waitv is asked again
  return g_calls_for_test.exchange(0);
}
#endif

bool Cancel(Wait* w) {
  std::lock_guard<std::mutex> lock(g_mutex);
  Thread* t = w->thread;
  if (!t) return false;
  t->waits.erase(std::find(t->waits.begin(), t->waits.end(), w));
  w->thread = nullptr;
  Poke(t);
  return true;
}

}  // namespace waiter
}  // namespace memmap
