// Argument checks, in TypeScript rather than in the addon, with the messages
// Node gives for its own functions.
import { invalidArgType, invalidArgValue, outOfRange } from "./errors.js";

/** The largest offset or length memmap accepts: every integer up to 2^53 - 1 is exact. */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export function validateInteger(value: unknown, name: string, min = 0, max = MAX_SAFE): number {
  if (typeof value !== "number") throw invalidArgType(name, "of type number", value);
  if (!Number.isInteger(value)) throw outOfRange(name, "an integer", value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== "boolean") throw invalidArgType(name, "of type boolean", value);
  return value;
}

export function validateObject(value: unknown, name: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalidArgType(name, "of type object", value);
  }
  return value as Record<string, unknown>;
}

export function validateOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw invalidArgValue(name, value, `must be one of: ${allowed.map((a) => `'${a}'`).join(", ")}`);
  }
  return value as T;
}

/** An optional option: undefined gives the default. */
export function optionalBoolean(options: Record<string, unknown>, key: string, fallback = false): boolean {
  const v = options[key];
  return v === undefined ? fallback : validateBoolean(v, `options.${key}`);
}

export function optionalInteger(options: Record<string, unknown>, key: string, fallback: number, min = 0): number {
  const v = options[key];
  return v === undefined ? fallback : validateInteger(v, `options.${key}`, min);
}

export function optionsObject(value: unknown, name = "options"): Record<string, unknown> {
  return value === undefined ? {} : validateObject(value, name);
}

/**
 * An options bag (or a handle) as a plain object: each of `keys` read
 * exactly once, in order, before anything is checked. A getter or a Proxy
 * could otherwise pass a check with one answer and reach the file system
 * with another: what is checked is then what is used.
 */
export function optionsSnapshot<K extends string>(value: unknown, keys: readonly K[], name = "options"): Record<K, unknown> {
  const bag = optionsObject(value, name);
  const copy = {} as Record<K, unknown>;
  for (const key of keys) copy[key] = bag[key];
  return copy;
}

/** A byte range in a mapping's coordinates. */
export interface Range {
  /** First byte, relative to the start of the mapping. Default 0. */
  offset?: number;
  /** Number of bytes. Default: to the end of the mapping. */
  length?: number;
}

/** Resolves an optional range against a mapping of `byteLength` bytes. */
export function resolveRange(range: unknown, byteLength: number, name = "range"): { offset: number; length: number } {
  const r = optionsObject(range, name);
  const offset = optionalInteger(r, "offset", 0);
  if (offset > byteLength) throw outOfRange(`${name}.offset`, `<= ${byteLength} (the mapping's byteLength)`, offset);
  const length = optionalInteger(r, "length", byteLength - offset);
  if (length > byteLength - offset) {
    throw outOfRange(`${name}.length`, `<= ${byteLength - offset} (the bytes after offset ${offset})`, length);
  }
  return { offset, length };
}

/**
 * Checks a span of `size` bytes: `offset` in [0, size], `length` (default: to
 * the end) in [0, size - offset]. Returns the length.
 */
export function spanLength(offset: unknown, length: unknown, size: number): number {
  const at = validateInteger(offset, "offset", 0, size);
  return length === undefined ? size - at : validateInteger(length, "length", 0, size - at);
}

/**
 * [start, end) of `length` bytes, clamped as ArrayBuffer.prototype.slice
 * clamps (integers toward zero, negative from the end, end before start:
 * empty). Anything but a number or undefined is a TypeError.
 */
export function clampSlice(start: unknown, end: unknown, length: number): [number, number] {
  const at = (value: unknown, name: string, absent: number): number => {
    if (value === undefined) return absent;
    if (typeof value !== "number") throw invalidArgType(name, "of type number", value);
    const n = Number.isNaN(value) ? 0 : Math.trunc(value);
    return n < 0 ? Math.max(length + n, 0) : Math.min(n, length);
  };
  const from = at(start, "start", 0);
  const to = at(end, "end", length);
  return [from, Math.max(from, to)];
}

/** `data` as bytes: a Uint8Array as it is, a string as UTF-8, another view over its bytes. */
export function toBytes(data: unknown, name: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw invalidArgType(name, "of type string or an instance of Buffer, TypedArray or DataView", data);
}
