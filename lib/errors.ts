// Every error the library throws is made here, shaped like Node's own:
// system failures like fs errors (code, errno, syscall, path), bad arguments
// as TypeError/RangeError with Node's ERR_* codes and the argument named.
import { getSystemErrorMap } from "node:util";
import { inspect } from "node:util";

/** An error from the operating system, shaped like Node's fs errors. */
export interface SystemError extends Error {
  code: string;
  /** Negative, as in Node's fs errors (`-2` for ENOENT). */
  errno: number;
  syscall: string;
  path?: string;
}

/** Builds a Node-style system error from a positive errno value. */
export function systemError(errno: number, syscall: string, path?: string): SystemError {
  const [code, description] = getSystemErrorMap().get(-errno) ?? [`Unknown system error ${errno}`, "unknown error"];
  let message = `${code}: ${description}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  const err = new Error(message) as SystemError;
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

/**
 * A system error by its code ("ENOMEM"), for failures the library itself
 * finds: the number is this platform's (libuv's codes differ on Windows).
 */
export function systemErrorCode(code: string, syscall: string, path?: string): SystemError {
  for (const [errno, [name]] of getSystemErrorMap()) {
    if (name === code) return systemError(-errno, syscall, path);
  }
  // A runtime whose map lacks it: the code all the same, errno unknown (0).
  const err = systemError(0, syscall, path);
  err.code = code;
  err.message = `${code}: ${syscall}${path === undefined ? "" : ` '${path}'`}`;
  return err;
}

/**
 * Windows' shared memory is a section of fixed size (docs/backends.md): the
 * addon's ENOTSUP from ftruncate gets a message that says so. Anything else
 * is returned as is.
 */
export function fixedSizeSection(e: unknown): unknown {
  const err = e as SystemError;
  if (process.platform !== "win32" || err?.code !== "ENOTSUP" || err.syscall !== "ftruncate") return e;
  return notSupported("ftruncate", "shared memory on Windows is a section whose size is fixed when it is made; it cannot be resized");
}

/** ENOTSUP, shaped like a system error, with `why` as its message. */
export function notSupported(syscall: string, why: string): SystemError {
  const err = systemErrorCode("ENOTSUP", syscall);
  err.message = `${err.code}: ${why}`;
  return err;
}

interface NativeSystemError {
  memmapSystemError: true;
  errno: number;
  syscall: string;
  /** What to do about it, where the code alone does not say (the mapping limit). */
  hint?: string;
}

function isNativeSystemError(e: unknown): e is NativeSystemError {
  return typeof e === "object" && e !== null && (e as { memmapSystemError?: unknown }).memmapSystemError === true;
}

/**
 * The one place native failures pass through: a system failure from the addon
 * becomes a Node-style error carrying `path`; anything else is returned as is.
 */
export function fromNative(e: unknown, path?: string): unknown {
  if (!isNativeSystemError(e)) return e;
  const err = systemError(e.errno, e.syscall, path);
  if (typeof e.hint === "string") err.message += `: ${e.hint}`;
  return err;
}

/** Calls a backend (native or portable), converting system failures on the way out. */
export function backendCall<T>(fn: () => T, path?: string): T {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e, path);
  }
}

/** The same for a promise-returning backend call. */
export function backendCallAsync<T>(fn: () => Promise<T>, path?: string): Promise<T> {
  // Not an async function: its suspended frame would keep `fn` (and the
  // mapping it closes over) reachable for as long as the native promise is
  // pending, and a pending waitAsync() must not keep its mapping alive.
  let pending: Promise<T>;
  try {
    pending = fn();
  } catch (e) {
    return Promise.reject(fromNative(e, path));
  }
  return pending.then(undefined, (e: unknown) => {
    throw fromNative(e, path);
  });
}

function withCode<E extends Error>(err: E, code: string): E & { code: string } {
  Object.defineProperty(err, "code", { value: code, enumerable: true, writable: true, configurable: true });
  // Node prints the code in the name: "TypeError [ERR_INVALID_ARG_TYPE]: ...".
  if (err.stack !== undefined) err.stack = err.stack.replace(/^(\w+)/, `$1 [${code}]`);
  return err as E & { code: string };
}

function describeReceived(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "function") return `function ${value.name || "<anonymous>"}`;
  if (typeof value === "object") {
    const name = (value as object).constructor?.name;
    return name ? `an instance of ${name}` : inspect(value, { depth: -1 });
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

export function invalidArgType(name: string, expected: string, value: unknown): TypeError {
  return withCode(new TypeError(`The "${name}" argument must be ${expected}. Received ${describeReceived(value)}`), "ERR_INVALID_ARG_TYPE");
}

export function invalidArgValue(name: string, value: unknown, reason: string): TypeError {
  return withCode(new TypeError(`The argument '${name}' ${reason}. Received ${inspect(value, { depth: 0 })}`), "ERR_INVALID_ARG_VALUE");
}

export function outOfRange(name: string, range: string, value: unknown): RangeError {
  return withCode(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${inspect(value)}`), "ERR_OUT_OF_RANGE");
}

/** A range that does not fit the file or the mapping. */
export function rangeError(message: string): RangeError {
  return withCode(new RangeError(message), "ERR_OUT_OF_RANGE");
}

/** A memmap-specific failure: an Error with one of memmap's ERR_MEMMAP_* codes, and any further properties. */
export function memmapError(code: string, message: string, extra: Record<string, unknown> = {}): Error & { code: string } {
  return Object.assign(withCode(new Error(message), code), extra);
}

/** Thrown by every method of a mapping after unmap(). */
export function closedError(): Error {
  return withCode(new Error("The mapping is closed (unmap() was called)"), "ERR_MEMMAP_CLOSED");
}
