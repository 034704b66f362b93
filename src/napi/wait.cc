// Futex waits on a word of a shared mapping: wait (blocking, in slices),
// waitAsync (on src/core/waiter.cc's threads), notify.

#include "wait.h"

#include <algorithm>
#include <vector>

#include "../core/waiter.h"
#include "env.h"
#include "register.h"

namespace memmap {

// waitAsync(): on the waiter's threads (src/core/waiter.h), never on the pool.
// Like Atomics.waitAsync, a pending wait does not keep the event loop alive,
// unless it was made `persistent`. It holds the range (Lease work) but not the
// handle: unmap() rejects it at once, and the handle's collection ends it
// too ("ok", on a later turn), so nothing waits on a mapping nobody has.
// Ended waits come back to their thread through a thread-safe function.

static void SendBack(AsyncWait* aw);
static void EndWait(napi_env env, AsyncWait* aw);
static int32_t* WordAt(napi_env env, Args& a, JsMapping** out);

struct AsyncWait {
  waiter::Wait wait;
  napi_deferred deferred = nullptr;
  JsMapping* mapping = nullptr;
  bool persistent = false;
  WaitEnd end = WaitEnd::kWaiter;
  uint64_t seq = 0;  // arrival order, for notify()
  AsyncWait* next_stranded = nullptr;  // in its EnvData's `stranded`
};

// A wait ended by its mapping's collection resolves "ok", as a spurious
// wake-up: a rejection nobody handles would end the process, and nobody can
// look at the word again anyway.
static const char* WaitOutcome(waiter::Outcome o) {
  return o == waiter::Outcome::kTimedOut ? "timed-out" : "ok";
}

// On the wait's own thread: settles its promise and lets the range go.
// `env` is null when the environment is being torn down: nothing settles.
static void EndWait(napi_env env, AsyncWait* aw) {
  JsMapping* r = aw->mapping;
  EnvData* envd = r->envd;
  envd->waits.erase(aw);
  if (aw->persistent && --envd->persistent_waits == 0 && env && envd->wait_tsfn) {
    napi_unref_threadsafe_function(env, envd->wait_tsfn);
  }
  auto it = std::find(r->waits.begin(), r->waits.end(), aw);
  if (it != r->waits.end()) r->waits.erase(it);
  if (env) {
    napi_handle_scope scope;
    bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
    if (aw->end == WaitEnd::kUnmapped) {
      napi_reject_deferred(env, aw->deferred, CodedError(env, "ERR_MEMMAP_CLOSED", "The mapping was unmapped while waitAsync() waited"));
    } else if (aw->wait.outcome == waiter::Outcome::kFailed) {
      napi_value err = MakeSysError(env, aw->wait.error);
      napi_reject_deferred(env, aw->deferred, err ? err : Undefined(env));
    } else {
      napi_value v;
      napi_create_string_utf8(env, WaitOutcome(aw->wait.outcome), NAPI_AUTO_LENGTH, &v);
      napi_resolve_deferred(env, aw->deferred, v);
    }
    if (scoped) napi_close_handle_scope(env, scope);
  }
  r->EndWork();
  DropRef(r);
  delete aw;
}

static void WaitCallJs(napi_env env, napi_value, void*, void* data) {
  EndWait(env, static_cast<AsyncWait*>(data));
}

// The waiter's `done`, on a waiter thread: back to the wait's own thread.
// The thread-safe function is there: its finalizer cancels every pending
// wait (under the waiter's lock) before it goes.
static void WaitDone(waiter::Wait* w) {
  SendBack(static_cast<AsyncWait*>(w->owner));
}

// Hands an ended wait to its thread. While the environment is closing the
// thread-safe function refuses it: it then waits in `stranded` (linked
// through the wait itself: this runs on a waiter thread, and must not fail
// for want of memory), which CancelEnvWaits empties (a dropped wait would
// keep its range mapped for good).
static void SendBack(AsyncWait* aw) {
  EnvData* envd = aw->mapping->envd;
  if (envd->wait_tsfn && napi_call_threadsafe_function(envd->wait_tsfn, aw, napi_tsfn_nonblocking) == napi_ok) return;
  std::lock_guard<std::mutex> lock(envd->freed_mutex);
  aw->next_stranded = envd->stranded;
  envd->stranded = aw;
}

// The environment is going: its pending waits end here, unsettled. Nothing
// is copied (teardown may come with no memory left): EndWait takes out
// of `waits` only the wait it ends, which the loop has already passed.
void CancelEnvWaits(EnvData* envd) {
  for (auto it = envd->waits.begin(); it != envd->waits.end();) {
    AsyncWait* aw = *it++;
    if (waiter::Cancel(&aw->wait)) EndWait(nullptr, aw);
  }
  // Those that ended while the thread-safe function was closing. No more
  // can come: every wait of this environment has ended or was cancelled.
  AsyncWait* stranded = nullptr;
  {
    std::lock_guard<std::mutex> lock(envd->freed_mutex);
    std::swap(stranded, envd->stranded);
  }
  while (AsyncWait* aw = stranded) {
    stranded = aw->next_stranded;
    EndWait(nullptr, aw);
  }
}

// The runtime destroys the thread-safe function (at the environment's teardown).
void WaitTsfnFinalize(napi_env, void* data, void*) {
  EnvData* envd = static_cast<EnvData*>(data);
  CancelEnvWaits(envd);
  envd->wait_tsfn = nullptr;
}

// Ends the waits of `r` that are still pending, oldest first: settled now
// (unmap(), with `env`), or on a later turn (the handle's collection, inside
// GC, where nothing may be allocated: so no copy of the list). EndWait
// takes the wait it ends, and only that one, out of `r->waits`.
void CancelWaits(napi_env env, JsMapping* r, WaitEnd end) {
  for (size_t i = 0; i < r->waits.size();) {
    AsyncWait* aw = r->waits[i];
    if (!waiter::Cancel(&aw->wait)) {  // ended already: on its way back
      i++;
      continue;
    }
    aw->end = end;
    if (env) {
      EndWait(env, aw);
    } else {
      SendBack(aw);
      i++;
    }
  }
}

// (handle, byteOffset, expected, timeoutMs (-1: none), ...) of wait() and
// waitAsync(): the word, and what to wait for.
static bool ParseWait(Args& a, size_t argc, JsMapping** r, int32_t** word, int64_t* expected, int64_t* timeout) {
  if (!a.Need(argc)) return false;
  *word = WordAt(a.env, a, r);
  return *word && a.Int(2, "expected", INT32_MIN, INT32_MAX, expected) &&
         a.Int(3, "timeout", -1, kMaxSafe, timeout);
}

// waitAsync(handle, byteOffset, expected, timeoutMs (-1: none), persistent) => Promise<string>
static napi_value WaitAsyncJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  JsMapping* r = nullptr;
  int32_t* word;
  int64_t expected, timeout;
  bool persistent;
  if (!ParseWait(a, 5, &r, &word, &expected, &timeout) || !a.Bool(4, &persistent)) return nullptr;
  EnvData* envd = r->envd;
  napi_deferred deferred;
  napi_value promise;
  napi_status s = napi_create_promise(env, &deferred, &promise);
  if (s != napi_ok) {
    ThrowStatus(env, s, "napi_create_promise");
    return nullptr;
  }
  // Settled at once, as Atomics.waitAsync does: the value differs, or no time to wait.
  const char* now = nullptr;
  if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != static_cast<int32_t>(expected)) now = "not-equal";
  else if (timeout == 0) now = "timed-out";
  if (now) {
    napi_value v;
    napi_create_string_utf8(env, now, NAPI_AUTO_LENGTH, &v);
    napi_resolve_deferred(env, deferred, v);
    return promise;
  }
  if (!envd->wait_tsfn) {
    napi_value name;
    napi_create_string_utf8(env, "memmap.waitAsync", NAPI_AUTO_LENGTH, &name);
    s = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, envd, WaitTsfnFinalize, envd, WaitCallJs,
                                        &envd->wait_tsfn);
    if (s == napi_ok) s = napi_unref_threadsafe_function(env, envd->wait_tsfn);
    if (s != napi_ok) {
      envd->wait_tsfn = nullptr;
      napi_reject_deferred(env, deferred, CodedError(env, "ERR_MEMMAP_WAIT", "waitAsync() cannot call back on this runtime"));
      return promise;
    }
  }
  AsyncWait* aw = Allocate<AsyncWait>();
  if (!aw) {
    napi_value err = MakeSysError(env, Fail(ENOMEM, "futex"));
    napi_reject_deferred(env, deferred, err ? err : Undefined(env));
    return promise;
  }
  aw->seq = ++envd->wait_seq;
  aw->deferred = deferred;
  aw->mapping = r;
  aw->persistent = persistent;
  aw->wait.word = word;
  aw->wait.expected = static_cast<int32_t>(expected);
  aw->wait.deadline_ns = timeout < 0 ? -1 : os::MonotonicNs() + timeout * 1000000;
  aw->wait.done = WaitDone;
  aw->wait.owner = aw;
  // Before Add: the waiter may end it at once, and its thread then finds it.
  r->BeginWork();
  r->Ref();
  r->waits.push_back(aw);
  envd->waits.insert(aw);
  if (persistent && envd->persistent_waits++ == 0) napi_ref_threadsafe_function(env, envd->wait_tsfn);
  SysErr e = waiter::Add(&aw->wait);
  if (e) {
    aw->wait.outcome = waiter::Outcome::kFailed;
    aw->wait.error = e;
    EndWait(env, aw);
  }
  return promise;
}

// The 32-bit word at byteOffset of an open shared mapping.
static int32_t* WordAt(napi_env env, Args& a, JsMapping** out) {
  int64_t offset;
  JsMapping* r = a.Handle(0);
  if (!r || !a.Int(1, "byteOffset", 0, kMaxSafe, &offset) || !CheckOpen(env, r)) return nullptr;
  if (offset % 4 != 0 || static_cast<uint64_t>(offset) + 4 > r->range().length() || !r->range().mapped()) {
    ThrowRange(env, "The index is outside the mapping (or the mapping is empty)");
    return nullptr;
  }
  *out = r;
  return reinterpret_cast<int32_t*>(r->range().data() + offset);
}

// wait(handle, byteOffset, expected, timeoutMs (-1: none)) => "ok" | "not-equal" | "timed-out"
static napi_value WaitJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  JsMapping* r = nullptr;
  int32_t* word;
  int64_t expected, timeout;
  if (!ParseWait(a, 4, &r, &word, &expected, &timeout)) return nullptr;
  // In slices: between two, the thread checks that it
  // can still run JavaScript. worker.terminate() and process.exit() stop the
  // thread's JavaScript and then wait for it; a wait that never looked up
  // would hold them forever (Atomics.wait is woken by the termination).
  // A notify() that changes nothing, sent in the instant between two slices,
  // is missed, as it would be by a waiter that had not started yet; the
  // usual protocols change the word before they notify.
  constexpr int64_t kWaitSlice = 50 * 1000000LL;
  EnvData* envd = GetEnvData(env);
  int64_t remaining = timeout < 0 ? -1 : timeout * 1000000;
  int outcome = 0;
  for (;;) {
    int64_t slice = remaining < 0 ? kWaitSlice : std::min(remaining, kWaitSlice);
    SysErr e = os::WaitOnAddress(word, static_cast<int32_t>(expected), slice, &outcome);
    if (e) {
      ThrowSys(env, e);
      return nullptr;
    }
    if (outcome != 2) break;  // woken, or the word changed
    if (remaining >= 0 && (remaining -= slice) <= 0) break;  // timed out
    if (!CanRunJs(envd)) {
      // Teardown began: end the call; the termination is what JavaScript sees.
      ThrowCode(env, "ERR_MEMMAP_CLOSED", "The thread is being torn down");
      return nullptr;
    }
  }
  napi_value v;
  napi_create_string_utf8(env, outcome == 0 ? "ok" : outcome == 1 ? "not-equal" : "timed-out", NAPI_AUTO_LENGTH, &v);
  return v;
}

// notify(handle, byteOffset, count) => number of waiters woken
static napi_value NotifyJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(3)) return nullptr;
  JsMapping* r = nullptr;
  int32_t* word = WordAt(env, a, &r);
  int64_t count;
  if (!word || !a.Int(2, "count", 0, INT32_MAX, &count)) return nullptr;
  // This thread's own waits on the word first, oldest first, settled here
  // (as Atomics.notify settles its thread's waitAsync calls): through the
  // waiter, the wake-up would come back on a later turn of an event loop
  // that a pending wait does not keep alive.
  int woken = 0;
  std::vector<AsyncWait*> mine;
  for (AsyncWait* aw : r->envd->waits) {
    if (aw->wait.word == word) mine.push_back(aw);
  }
  std::sort(mine.begin(), mine.end(), [](AsyncWait* x, AsyncWait* y) { return x->seq < y->seq; });
  for (AsyncWait* aw : mine) {
    if (woken == count) break;
    if (!waiter::Cancel(&aw->wait)) continue;  // ended already: on its way back
    aw->wait.outcome = waiter::Outcome::kWoken;
    EndWait(env, aw);
    woken++;
  }
  if (woken < count) {
    int others = 0;
    SysErr e = os::WakeAddress(word, static_cast<int32_t>(count - woken), &others);
    if (e) {
      ThrowSys(env, e);
      return nullptr;
    }
    woken += others;
  }
  napi_value v;
  napi_create_int32(env, woken, &v);
  return v;
}

#ifdef MEMMAP_TEST_HOOKS
// failWaitsForTest(on) => number: see waiter::FailWaitsForTest.
static napi_value FailWaitsJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  bool on;
  if (!a.Need(1) || !a.Bool(0, &on)) return nullptr;
  napi_value v;
  napi_create_double(env, static_cast<double>(waiter::FailWaitsForTest(on)), &v);
  return v;
}
#endif

bool RegisterWait(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"wait", WaitJs, 4},
      {"waitAsync", WaitAsyncJs, 5},
      {"notify", NotifyJs, 3},
#ifdef MEMMAP_TEST_HOOKS
      {"failWaitsForTest", FailWaitsJs, 1},
#endif
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
