// What a Mapping hands out over its memory: the whole Buffer, views, typed
// arrays and exact ArrayBuffers, and the writes OutputFile makes through a
// slab. Each is checked against the mapping's length and cut from its slabs
// (lib/slabs.ts); a system failure names the mapping's file. A Mapping makes
// one of these when it is made and a new one at each resize() (the old one's
// slabs are detached then), and uses it only while it is open.
import { constants as bufferConstants } from "node:buffer";
import { MAX_SLAB, Slabs, type SlabSource } from "./slabs.js";
import { detachHeap } from "./detach.js";
import { typedCount, type TypedArrayConstructor, type TypedArrayOf } from "./typed.js";
import { backendCall, fromNative, rangeError } from "./errors.js";
import { clampSlice, spanLength } from "./validate.js";

export class MappingViews {
  readonly #slabs: Slabs;
  readonly #byteLength: number;
  readonly #path: string | undefined;
  #whole: Buffer<ArrayBuffer> | undefined;

  constructor(source: SlabSource, byteLength: number, path: string | undefined) {
    this.#slabs = new Slabs(source, byteLength);
    this.#byteLength = byteLength;
    this.#path = path;
  }

  /** Slabs made so far. */
  get slabCount(): number {
    return this.#slabs.count;
  }

  /** Mapping#buffer: the whole mapping, the same Buffer each time. */
  whole(): Buffer<ArrayBuffer> {
    // Made again if its memory was moved away (ArrayBuffer.prototype.transfer).
    if (this.#whole === undefined || (this.#whole.length === 0 && this.#byteLength > 0)) {
      const length = this.#byteLength;
      if (length > bufferConstants.MAX_LENGTH) {
        throw rangeError(
          `The mapping (${length} bytes) is larger than a Buffer can be ` +
            `(buffer.constants.MAX_LENGTH = ${bufferConstants.MAX_LENGTH}); use view(offset, length)`,
        );
      }
      this.#whole = backendCall(() => this.#slabs.whole(), this.#path);
    }
    return this.#whole;
  }

  /** Mapping#view. */
  view(offset: number, length: number | undefined): Buffer<ArrayBuffer> {
    const len = spanLength(offset, length, this.#byteLength);
    if (len > bufferConstants.MAX_LENGTH) {
      throw rangeError(`A view can be at most buffer.constants.MAX_LENGTH (${bufferConstants.MAX_LENGTH}) bytes`);
    }
    try {
      return this.#slabs.view(offset, len); // no closure on this path: it is the hot one
    } catch (e) {
      throw fromNative(e, this.#path);
    }
  }

  /** Mapping#typed; `fileOffset` is the mapping's, which must be aligned too. */
  typed<C extends TypedArrayConstructor>(Ctor: C, byteOffset: number, length: number | undefined, fileOffset: number): TypedArrayOf<C> {
    const count = typedCount(Ctor, byteOffset, length, this.#byteLength, fileOffset, MAX_SLAB);
    try {
      return this.#slabs.typed(Ctor as unknown as new (b: ArrayBuffer, o: number, n: number) => TypedArrayOf<C>, Ctor.BYTES_PER_ELEMENT, byteOffset, count);
    } catch (e) {
      throw fromNative(e, this.#path);
    }
  }

  /** Mapping#arrayBuffer; `writable`: a copy is refused (its writes would be lost). */
  exact(start: number | undefined, end: number | undefined, writable: boolean): ArrayBuffer {
    const [from, to] = clampSlice(start, end, this.#byteLength);
    if (to - from > MAX_SLAB) {
      throw rangeError(`An ArrayBuffer here can be at most ${MAX_SLAB} bytes; use view() or chunks()`);
    }
    try {
      return this.#slabs.exact(from, to - from, writable);
    } catch (e) {
      throw fromNative(e, this.#path);
    }
  }

  /** Copies `data` into the mapping at a checked offset, through a slab (no view made). */
  write(offset: number, data: Uint8Array): void {
    try {
      this.#slabs.write(offset, data); // no closure: OutputFile.write() calls this per record
    } catch (e) {
      throw fromNative(e, this.#path);
    }
  }

  /**
   * Detaches the copies exact() made where the backend cannot cut its
   * memory (portable): they go with the mapping, as the slabs do.
   */
  detachCopies(): void {
    for (const copy of this.#slabs.copies()) detachHeap(new Uint8Array(copy));
  }
}
