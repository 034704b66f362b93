// Slabs: how a mapping's memory reaches JavaScript, for both backends.
//
// A backend hands out a few ArrayBuffers per mapping ("slabs"), each
// registered once for detaching and finalizing; every view() is a Buffer cut
// out of one, which costs about what `subarray` costs and creates nothing
// native. unmap() and resize() detach every slab, and with it every
// Buffer, subarray and DataView over it.
//
// The layout bounds what a structured clone of a view copies (postMessage
// and structuredClone copy a typed array's whole ArrayBuffer):
//  * Level k has slabs of 2·S_k bytes starting every S_k bytes, where
//    S_k = BASE_STRIDE · 2^k. A view of at most S_k bytes lies wholly inside
//    the level-k slab that starts at floor(offset / S_k) · S_k.
//  * A view of `length` bytes uses the smallest level with S_k ≥ length, so
//    its slab is at most max(2·BASE_STRIDE, 4·length) bytes: posting a
//    64-byte view copies at most 512 KiB, never the whole mapping.
//  * Slabs are made on first use and kept for the mapping's life: at most
//    about 2·byteLength / BASE_STRIDE of them, however many views are made.
//  * A slab can be at most `maxSlab` bytes (4 GiB on Node 20, where that
//    is the limit of an external ArrayBuffer; 2^53 - 1 on Node 22+ and Bun).
//    A view longer than half of that gets a slab of its own, cached by
//    its range. `buffer` (the whole mapping) always has a slab of its own.
import { constants as bufferConstants } from "node:buffer";
import { notSupported } from "./errors.js";

/** Mapping bytes [start, start + buffer.byteLength) as one ArrayBuffer. */
export interface Slab {
  readonly buffer: ArrayBuffer;
  /** The mapping offset of the ArrayBuffer's byte 0. */
  readonly start: number;
}

/** What makes slabs: a backend's mapping. */
export interface SlabSource {
  /**
   * An ArrayBuffer over at least mapping bytes [start, start + length). A
   * backend whose memory is one ArrayBuffer (the portable one) returns that
   * whole, with `start` 0. `pinned` false (arrayBuffer()'s): the slab may
   * be collected while the mapping lives (see SlabJs in src/napi/slabs.cc).
   */
  slab(start: number, length: number, pinned?: boolean): Slab;
}

/** Stride of the smallest slabs; they are twice as long. */
export const BASE_STRIDE = 256 * 1024;

/** The longest slab this runtime can make. */
export const MAX_SLAB = Math.min(bufferConstants.MAX_LENGTH, Number.MAX_SAFE_INTEGER);

interface Slot {
  readonly buffer: ArrayBuffer;
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
}

function slotOf(w: Slab): Slot {
  return { buffer: w.buffer, bytes: new Uint8Array(w.buffer), start: w.start, end: w.start + w.buffer.byteLength };
}

/** The slabs of one mapping. Offsets and lengths are checked by the caller. */
export class Slabs {
  readonly #source: SlabSource;
  readonly #byteLength: number;
  // levels[k]: slab index → slot.
  #levels: Array<Map<number, Slot>> = [];
  #own = new Map<string, Slot>();
  // arrayBuffer()'s copies, where the backend has one ArrayBuffer.
  #copies: Array<WeakRef<ArrayBuffer>> = [];
  #whole: Slot | null = null;
  #last: Slot | null = null;

  constructor(source: SlabSource, byteLength: number) {
    this.#source = source;
    this.#byteLength = byteLength;
  }

  /** Slabs made so far (for tests and stats). */
  get count(): number {
    let n = this.#own.size + (this.#whole ? 1 : 0);
    for (const level of this.#levels) n += level.size;
    return n;
  }

  // The slot that holds [offset, offset + length), made if need be.
  #find(offset: number, length: number): Slot {
    // The last slab, if it holds the range and is no longer than the
    // layout allows for this length (a post copies the whole slab).
    const last = this.#last;
    if (
      last !== null && offset >= last.start && offset + length <= last.end && last.buffer.byteLength !== 0 &&
      last.end - last.start <= Math.max(2 * BASE_STRIDE, 4 * length)
    ) return last;
    let stride = BASE_STRIDE;
    let k = 0;
    while (stride < length) {
      stride *= 2;
      k++;
    }
    let slot: Slot | undefined;
    if (length > MAX_SLAB / 2) {
      // Longer than any shared slab can hold: a slab of its own.
      const key = `${offset}:${length}`;
      slot = this.#own.get(key);
      if (slot === undefined || slot.buffer.byteLength === 0) {
        slot = slotOf(this.#source.slab(offset, length));
        this.#own.set(key, slot);
      }
    } else {
      const level = (this.#levels[k] ??= new Map());
      const index = Math.floor(offset / stride);
      slot = level.get(index);
      // A slab can be detached by its user (ArrayBuffer.prototype.transfer,
      // a transfer list where the runtime moves external memory): then a
      // fresh one replaces it (the addon keeps the detached one pinned while
      // the mapping lives: see Pinning in src/napi/slabs.cc).
      if (slot === undefined || slot.buffer.byteLength === 0) {
        const start = index * stride;
        slot = slotOf(this.#source.slab(start, Math.min(2 * stride, this.#byteLength - start)));
        level.set(index, slot);
      }
    }
    this.#last = slot;
    return slot;
  }

  /** A Buffer over mapping bytes [offset, offset + length). */
  view(offset: number, length: number): Buffer<ArrayBuffer> {
    if (length === 0) return Buffer.alloc(0);
    const s = this.#find(offset, length);
    return Buffer.from(s.buffer, offset - s.start, length);
  }

  /** A Buffer over the whole mapping, on a slab of its own. */
  whole(): Buffer<ArrayBuffer> {
    if (this.#byteLength === 0) return Buffer.alloc(0);
    if (this.#whole === null || this.#whole.buffer.byteLength === 0) {
      this.#whole = slotOf(this.#source.slab(0, this.#byteLength));
    }
    const s = this.#whole;
    return Buffer.from(s.buffer, -s.start, this.#byteLength);
  }

  /**
   * A typed array of `count` elements over mapping bytes from `offset`
   * (checked and aligned by the caller: lib/typed.ts). Shared slabs start
   * at multiples of their stride, so the array's start in one is aligned;
   * a slab of a long view can start anywhere, and then the array gets a
   * slab of its own that starts where it does.
   */
  typed<T>(Ctor: new (buffer: ArrayBuffer, byteOffset: number, length: number) => T, size: number, offset: number, count: number): T {
    if (count === 0) return new Ctor(new ArrayBuffer(0), 0, 0);
    let s = this.#find(offset, count * size);
    if ((offset - s.start) % size !== 0) {
      const key = `${offset}:${count * size}`;
      s = this.#own.get(key) ?? slotOf(this.#source.slab(offset, count * size));
      this.#own.set(key, s);
    }
    return new Ctor(s.buffer, offset - s.start, count);
  }

  /**
   * An ArrayBuffer over exactly mapping bytes [offset, offset + length),
   * made at each call. The native backend makes a slab of exactly that
   * range, which is collected when dropped (never cached: a loop of a
   * million calls must not keep a million slabs). The portable backend's
   * memory is one ArrayBuffer, which cannot be cut without copying: there it
   * is a copy, detached with the mapping (see copies()).
   */
  exact(offset: number, length: number, writable: boolean): ArrayBuffer {
    if (length === 0) return new ArrayBuffer(0);
    const w = this.#source.slab(offset, length, false);
    if (w.start === offset && w.buffer.byteLength === length) return w.buffer;
    // A copy of writable memory would take writes that never reach the
    // mapping (nor, for "write", its file): refused, not silently lost.
    if (writable) {
      throw notSupported(
        "arrayBuffer",
        "arrayBuffer() of part of a writable mapping would be a copy here (the portable backend, or a runtime " +
          "without external buffers), and writes to it would be lost; use view() or typed(), or map the file \"read\"",
      );
    }
    const copy = w.buffer.slice(offset - w.start, offset - w.start + length);
    if (this.#copies.length > 64) this.#copies = this.#copies.filter((r) => r.deref() !== undefined);
    this.#copies.push(new WeakRef(copy));
    return copy;
  }

  /** The copies exact() made that are still reachable (to detach at unmap()). */
  copies(): ArrayBuffer[] {
    return this.#copies.map((r) => r.deref()).filter((b): b is ArrayBuffer => b !== undefined && b.byteLength !== 0);
  }

  /** Copies `data` into the mapping at `offset`, with no Buffer made. */
  write(offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    const s = this.#find(offset, data.length);
    s.bytes.set(data, offset - s.start);
  }
}
