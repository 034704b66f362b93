// What every binding uses (src/napi/util.h): errors shaped for
// lib/errors.ts, allocation that fails without aborting, and the table that
// registers a file's functions.

#include "util.h"

#include <cstring>

namespace memmap {

// How many of the next Allocate() calls fail (only the test build sets it).
std::atomic<uint32_t> g_fail_allocations{0};

bool TakeAllocationFailure() {
  uint32_t n = g_fail_allocations.load(std::memory_order_relaxed);
  while (n > 0) {
    if (g_fail_allocations.compare_exchange_weak(n, n - 1)) return true;
  }
  return false;
}

// What a JavaScript call throws when the records it needs cannot be had:
// an fs-shaped ENOMEM naming the call it stands for, as mmap's own would be.
void ThrowNoMemory(napi_env env, const char* syscall) { ThrowSys(env, Fail(ENOMEM, syscall)); }


// Errors. System failures are thrown as an Error carrying `errno` (positive)
// and `syscall`; lib/errors.ts turns them into Node's fs-style errors.

napi_value MakeSysError(napi_env env, const SysErr& e) {
  napi_value msg, err, num, sys, flag;
  std::string text = std::string(e.syscall ? e.syscall : "?") + " failed: " +
                     strerror(e.err);
  if (napi_create_string_utf8(env, text.c_str(), text.size(), &msg) != napi_ok ||
      napi_create_error(env, nullptr, msg, &err) != napi_ok) {
    return nullptr;
  }
  napi_create_int32(env, os::ErrnoForJs(e.err), &num);
  napi_set_named_property(env, err, "errno", num);
  napi_create_string_utf8(env, e.syscall ? e.syscall : "", NAPI_AUTO_LENGTH,
                          &sys);
  napi_set_named_property(env, err, "syscall", sys);
  napi_get_boolean(env, true, &flag);
  napi_set_named_property(env, err, "memmapSystemError", flag);
  if (e.hint) {
    napi_value hint;
    napi_create_string_utf8(env, e.hint, NAPI_AUTO_LENGTH, &hint);
    napi_set_named_property(env, err, "hint", hint);
  }
  return err;
}

void ThrowSys(napi_env env, const SysErr& e) {
  napi_value err = MakeSysError(env, e);
  if (err) napi_throw(env, err);
}

void ThrowCode(napi_env env, const char* code, const std::string& msg) {
  napi_throw_error(env, code, msg.c_str());
}

// A MappedRange's refusal, as the JavaScript error a user expects of it.
napi_value MakeError(napi_env env, const Error& e) {
  switch (e.kind) {
    case Error::kNone: return nullptr;
    case Error::kSys: return MakeSysError(env, e.sys);
    case Error::kRange: {
      napi_value err = nullptr, msg, code;
      napi_create_string_utf8(env, e.message.c_str(), e.message.size(), &msg);
      napi_create_string_utf8(env, "ERR_OUT_OF_RANGE", NAPI_AUTO_LENGTH, &code);
      napi_create_range_error(env, code, msg, &err);
      return err;
    }
    case Error::kInvalid: return CodedError(env, "ERR_INVALID_ARG_VALUE", e.message);
    case Error::kTruncated: return CodedError(env, "ERR_MEMMAP_TRUNCATED", e.message);
  }
  return nullptr;
}

void ThrowError(napi_env env, const Error& e) {
  napi_value err = MakeError(env, e);
  if (err) napi_throw(env, err);
}

void ThrowRange(napi_env env, const std::string& msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg.c_str());
}

void ThrowType(napi_env env, const std::string& msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg.c_str());
}

// A failed Node-API call: leave a pending exception if there is one,
// otherwise throw one that says which call failed.
void ThrowStatus(napi_env env, napi_status status, const char* what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  std::string msg = std::string("memmap: ") + what + " failed (napi status " +
                    std::to_string(static_cast<int>(status)) + ")";
  napi_throw_error(env, "ERR_MEMMAP_INTERNAL", msg.c_str());
}

napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// The end of most calls: undefined, or the system error thrown.
napi_value UndefinedOrThrow(napi_env env, const Error& e) {
  if (e) {
    ThrowError(env, e);
    return nullptr;
  }
  return Undefined(env);
}

napi_value CodedError(napi_env env, const char* code, const std::string& text) {
  napi_value err = nullptr, msg, c;
  napi_create_string_utf8(env, text.c_str(), text.size(), &msg);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, msg, &err);
  return err ? err : Undefined(env);
}

// Defines `fns` on `exports`, each with its arity as the function's `length`.
bool DefineFunctions(napi_env env, napi_value exports, const FnSpec* fns, size_t count) {
  for (size_t i = 0; i < count; i++) {
    napi_value fn, arity;
    napi_status s = napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, nullptr, &fn);
    if (s == napi_ok) s = napi_create_uint32(env, fns[i].arity, &arity);
    if (s == napi_ok) {
      napi_property_descriptor length = {"length", nullptr, nullptr, nullptr, nullptr, arity, napi_configurable, nullptr};
      s = napi_define_properties(env, fn, 1, &length);
    }
    if (s == napi_ok) s = napi_set_named_property(env, exports, fns[i].name, fn);
    if (s != napi_ok) {
      ThrowStatus(env, s, fns[i].name);
      return false;
    }
  }
  return true;
}

}  // namespace memmap
