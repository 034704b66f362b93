// What every binding uses: reading arguments, throwing errors shaped for
// lib/errors.ts, allocating without aborting, and registering a file's
// functions (src/napi/util.cc).
#pragma once

#include "napi.h"

#include <atomic>
#include <cstdint>
#include <new>
#include <string>

#include "../core/range.h"

namespace memmap {

class JsMapping;

// One exported function: its name, its callback and its arity (the
// function's `length`, which test/exports.test.ts holds to lib/load.ts).
struct FnSpec {
  const char* name;
  napi_callback cb;
  uint32_t arity;
};

bool DefineFunctions(napi_env env, napi_value exports, const FnSpec* fns, size_t count);

// Errors. System failures are thrown as an Error carrying `errno` (positive)
// and `syscall`; lib/errors.ts turns them into Node's fs-style errors.
napi_value MakeSysError(napi_env env, const SysErr& e);
void ThrowSys(napi_env env, const SysErr& e);
void ThrowError(napi_env env, const Error& e);
napi_value MakeError(napi_env env, const Error& e);  // what ThrowError throws
void ThrowCode(napi_env env, const char* code, const std::string& msg);
void ThrowRange(napi_env env, const std::string& msg);
void ThrowType(napi_env env, const std::string& msg);
void ThrowStatus(napi_env env, napi_status status, const char* what);
napi_value CodedError(napi_env env, const char* code, const std::string& text);
napi_value Undefined(napi_env env);
napi_value UndefinedOrThrow(napi_env env, const Error& e);  // the end of most calls

// `new (std::nothrow) T()`: nullptr when memory ran out, where a plain `new`
// would end the process (the addon is built without exceptions). The test
// build's failAllocationsForTest(n) makes the next n fail (TakeAllocationFailure).
extern std::atomic<uint32_t> g_fail_allocations;
bool TakeAllocationFailure();
template <typename T>
T* Allocate() {
  if (TakeAllocationFailure()) return nullptr;
  return new (std::nothrow) T();
}
// What a JavaScript call throws when the records it needs cannot be had:
// an fs-shaped ENOMEM naming the call it stands for, as mmap's own would be.
void ThrowNoMemory(napi_env env, const char* syscall);

#define CHECK_NAPI(env, call)                 \
  do {                                        \
    napi_status status_ = (call);             \
    if (status_ != napi_ok) {                 \
      ThrowStatus((env), status_, #call);     \
      return nullptr;                         \
    }                                         \
  } while (0)

// ---------------------------------------------------------------------------
// Arguments.

// Number.MAX_SAFE_INTEGER + 1: every offset and length JavaScript can pass exactly.
constexpr int64_t kMaxSafe = int64_t{1} << 53;

struct Args {
  napi_env env;
  static constexpr size_t kMax = 12;
  size_t argc = kMax;
  napi_value argv[kMax];
  bool ok = true;

  Args(napi_env e, napi_callback_info info) : env(e) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) {
      ok = false;
      ThrowStatus(env, napi_generic_failure, "napi_get_cb_info");
    }
  }

  bool Need(size_t n) {
    if (!ok) return false;
    if (argc < n || n > kMax) {
      ThrowType(env, "expected " + std::to_string(n) + " arguments");
      ok = false;
    }
    return ok;
  }

  // An integer argument: a finite number with no fractional part within
  // [min, max]. Anything else is a TypeError/RangeError, never an abort.
  bool Int(size_t i, const char* name, int64_t min, int64_t max,
           int64_t* out) {
    if (!ok) return false;
    napi_valuetype t;
    if (napi_typeof(env, argv[i], &t) != napi_ok || t != napi_number) {
      ThrowType(env, std::string("The \"") + name + "\" argument must be of type number");
      return ok = false;
    }
    double d;
    napi_get_value_double(env, argv[i], &d);
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) ||
        d != static_cast<double>(static_cast<int64_t>(d))) {
      ThrowRange(env, std::string("The value of \"") + name + "\" is out of range.");
      return ok = false;
    }
    *out = static_cast<int64_t>(d);
    return true;
  }

  bool Bool(size_t i, bool* out) {
    if (!ok) return false;
    if (napi_get_value_bool(env, argv[i], out) != napi_ok) {
      ThrowType(env, "expected a boolean");
      return ok = false;
    }
    return true;
  }

  bool String(size_t i, const char* name, std::string* out) {
    if (!ok) return false;
    size_t len = 0;
    if (napi_get_value_string_utf8(env, argv[i], nullptr, 0, &len) != napi_ok) {
      ThrowType(env, std::string("The \"") + name + "\" argument must be of type string");
      return ok = false;
    }
    out->resize(len + 1);
    napi_get_value_string_utf8(env, argv[i], &(*out)[0], len + 1, &len);
    out->resize(len);
    if (out->find('\0') != std::string::npos) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                            (std::string("The \"") + name + "\" argument must not contain null bytes").c_str());
      return ok = false;
    }
    return true;
  }

  bool IsNull(size_t i) {
    napi_valuetype t;
    return napi_typeof(env, argv[i], &t) == napi_ok &&
           (t == napi_null || t == napi_undefined);
  }

  // The handle that comes first in a call of `n` arguments.
  JsMapping* HandleOf(size_t n) { return Need(n) ? Handle(0) : nullptr; }

  JsMapping* Handle(size_t i) {
    if (!ok) return nullptr;
    napi_valuetype t;
    void* data = nullptr;
    if (napi_typeof(env, argv[i], &t) != napi_ok || t != napi_external ||
        napi_get_value_external(env, argv[i], &data) != napi_ok || !data) {
      ThrowType(env, "expected a memmap handle");
      ok = false;
      return nullptr;
    }
    return static_cast<JsMapping*>(data);
  }
};

// The shape most calls share: (handle, offset, length, ...) on an open
// mapping, the range checked and widened to whole pages.
struct RangeArgs {
  JsMapping* mapping = nullptr;
  uint8_t* addr = nullptr;
  size_t len = 0;
};

}  // namespace memmap
