// Typed arrays over mappings (numpy.memmap for JavaScript): which
// constructors, and the rules an array's range must meet before it is cut
// out of a slab (lib/slabs.ts).
//
// Alignment. A typed array's elements must sit at addresses that are
// multiples of the element size: JavaScript refuses a misaligned start
// within an ArrayBuffer, and Atomics on a misaligned address fault on arm64.
// A mapping's first byte sits at its file offset's distance from a page
// boundary, so the rule is on both: the mapping's file offset and the
// array's byte offset must each be a multiple of the element size. (Map at
// an aligned offset, as every format with typed data lays it out.)
import { invalidArgType, invalidArgValue, rangeError } from "./errors.js";
import { validateInteger } from "./validate.js";

/** A constructor `typed()` and `mapTyped()` accept: the 11 TypedArray kinds (and Float16Array where the runtime has it). */
export type TypedArrayConstructor =
  | Int8ArrayConstructor | Uint8ArrayConstructor | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor
  | Float32ArrayConstructor | Float64ArrayConstructor | BigInt64ArrayConstructor | BigUint64ArrayConstructor;

/** The array a constructor makes over a mapping: always over an ArrayBuffer (never a SharedArrayBuffer). */
export type TypedArrayOf<C extends TypedArrayConstructor> =
  C extends Int8ArrayConstructor ? Int8Array<ArrayBuffer>
  : C extends Uint8ClampedArrayConstructor ? Uint8ClampedArray<ArrayBuffer>
  : C extends Uint8ArrayConstructor ? Uint8Array<ArrayBuffer>
  : C extends Int16ArrayConstructor ? Int16Array<ArrayBuffer>
  : C extends Uint16ArrayConstructor ? Uint16Array<ArrayBuffer>
  : C extends Int32ArrayConstructor ? Int32Array<ArrayBuffer>
  : C extends Uint32ArrayConstructor ? Uint32Array<ArrayBuffer>
  : C extends Float32ArrayConstructor ? Float32Array<ArrayBuffer>
  : C extends Float64ArrayConstructor ? Float64Array<ArrayBuffer>
  : C extends BigInt64ArrayConstructor ? BigInt64Array<ArrayBuffer>
  : C extends BigUint64ArrayConstructor ? BigUint64Array<ArrayBuffer>
  : never;

const CONSTRUCTORS: ReadonlySet<unknown> = new Set([
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  ...("Float16Array" in globalThis ? [(globalThis as Record<string, unknown>)["Float16Array"]] : []),
]);

/** Checks `Ctor` is a TypedArray constructor memmap accepts; returns its element size. */
export function elementSize(Ctor: unknown, name = "Ctor"): number {
  if (!CONSTRUCTORS.has(Ctor)) {
    throw invalidArgType(name, "a TypedArray constructor (Int8Array ... Float64Array, BigInt64Array, BigUint64Array)", Ctor);
  }
  return (Ctor as TypedArrayConstructor).BYTES_PER_ELEMENT;
}

/**
 * Checks an array of `Ctor` at `byteOffset` (mapping coordinates) with
 * `length` elements (omitted: to the end, which must then be a whole number
 * of elements) in a mapping of `byteLength` bytes at file offset
 * `fileOffset`. Returns the element count.
 */
export function typedCount(
  Ctor: unknown, byteOffset: unknown, length: unknown, byteLength: number, fileOffset: number, maxBytes: number,
): number {
  const size = elementSize(Ctor);
  const name = (Ctor as TypedArrayConstructor).name;
  const at = validateInteger(byteOffset, "byteOffset", 0, byteLength);
  if (fileOffset % size !== 0) {
    throw invalidArgValue("Ctor", name,
      `needs ${size}-byte alignment, but the mapping starts at file offset ${fileOffset}, which is not a multiple of ${size}: map at an aligned offset`);
  }
  if (at % size !== 0) {
    throw invalidArgValue("byteOffset", at, `is not a multiple of ${size} (the element size of ${name}): file offset ${fileOffset + at} would be misaligned`);
  }
  let count: number;
  if (length === undefined) {
    const rest = byteLength - at;
    if (rest % size !== 0) {
      throw invalidArgValue("length", undefined,
        `must be given: the ${rest} bytes from byteOffset ${at} to the end are not a whole number of ${size}-byte elements`);
    }
    count = rest / size;
  } else {
    count = validateInteger(length, "length", 0, Math.floor((byteLength - at) / size));
  }
  if (count * size > maxBytes) {
    throw rangeError(`A typed array here can be at most ${maxBytes} bytes (${Math.floor(maxBytes / size)} elements of ${name}); this one would be ${count * size}`);
  }
  return count;
}

/** Element counts to bytes, for mapTyped's `length` and `size`. */
export function elementsToBytes(value: unknown, name: string, size: number): number | undefined {
  if (value === undefined) return undefined;
  const n = validateInteger(value, name, 0, Math.floor(Number.MAX_SAFE_INTEGER / size));
  return n * size;
}
