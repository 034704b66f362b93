// The Mapping class: one mapping as JavaScript holds it. It owns the backend
// mapping and its lifetime (unmap, release, resize), runs the calls on a
// range of it and the waits on its words, and hands out views through
// lib/views.ts. map(), mapTyped() and mapAnonymous() make one (lib/map.ts).
import { constants as bufferConstants } from "node:buffer";
import { isMainThread } from "node:worker_threads";
import type { Access, Advice, BackendMapping, WaitResult } from "./backend.js";
import { backend } from "./select.js";
import type { Slab, SlabSource } from "./slabs.js";
import { MappingViews } from "./views.js";
import type { TypedArrayConstructor, TypedArrayOf } from "./typed.js";
import { closedError, memmapError, backendCall, backendCallAsync, fixedSizeSection } from "./errors.js";
import { MAX_SAFE, optionalBoolean, optionsObject, resolveRange, validateInteger, validateOneOf, type Range } from "./validate.js";

export type { Access, Range };

/** A structured-cloneable handle on shared memory; see {@link Mapping.share}. */
export interface SharedHandle {
  readonly kind: "memmap.SharedHandle";
  readonly id: number;
  readonly byteLength: number;
}

/** What {@link MapOptions.onFault} is told. */
export interface Fault {
  mapping: Mapping;
  /** The bytes that are gone: from `offset` (mapping coordinates) to the end of the mapping. */
  offset: number;
  length: number;
  /** Pages replaced with zeros so far. */
  pages: number;
}

export type { Advice, FileAdvice } from "./backend.js";

/** Which pages of a range are in memory (mincore). */
export interface Residency {
  pageSize: number;
  /** Pages in the range (widened to whole pages). */
  pages: number;
  /** Of those, resident in memory. */
  resident: number;
  /** One byte a page: 1 where resident. */
  map: Uint8Array;
}

/** The system's page size in bytes. */
export const pageSize: number = backend.pageSize;
/** The granularity of mapping offsets (the page size on POSIX, 64 KiB on Windows). */
export const allocationGranularity: number = backend.allocationGranularity;

/**
 * What the rest of lib/ (and the tests) may do with a Mapping that users
 * cannot: set by Mapping's static block, not exported from the package.
 */
export let mappingInternals: {
  watchFaults(m: Mapping, fn: (fault: Fault) => void): void;
  write(m: Mapping, offset: number, data: Uint8Array): void;
  /** Slabs the mapping made (lib/slabs.ts). */
  slabCount(m: Mapping): number;
  /**
   * Where the runtime refuses external buffers, the heap mapping `make`
   * returns replaces the backend mapping at its first slab, instead of the
   * backend's own copy (BackendMapping.heapCopy). Call it before any slab.
   */
  copyAs(m: Mapping, make: (length: number) => BackendMapping): void;
};

/**
 * A memory mapping. Made by {@link map} or {@link mapAnonymous}.
 *
 * Every Buffer it hands out is detached by {@link Mapping.unmap} (and by
 * {@link Mapping.resize}), so no code can reach unmapped memory: a detached
 * Buffer has length 0 and reads `undefined`.
 */
export class Mapping implements Disposable {
  #m: BackendMapping | null;
  // What the slabs are cut from: #m, as it is at each slab (see #slab).
  readonly #slabSource: SlabSource = { slab: (start, length, pinned) => this.#slab(start, length, pinned) };
  #views: MappingViews | null;
  readonly #path: string | undefined;
  #faultedAtUnmap = false;
  #onFault: ((offset: number, length: number, pages: number) => void) | undefined;
  // What makes the heap copy, if not the backend mapping itself (copyAs).
  #copyAs: ((length: number) => BackendMapping) | undefined;
  /** The file offset of the first byte (0 for anonymous mappings). */
  readonly offset: number;
  /** `"read"`, `"write"`, `"copy"`, or `"anonymous"`. */
  readonly access: Access | "anonymous";

  static {
    mappingInternals = {
      watchFaults: (m, fn) => m.#watchFaults(fn),
      write: (m, offset, data) => m.#write(offset, data),
      slabCount: (m) => m.#views?.slabCount ?? 0,
      copyAs: (m, make) => {
        m.#copyAs = make;
      },
    };
  }

  /** @internal Use map() or mapAnonymous(). */
  constructor(m: BackendMapping, access: Access | "anonymous", offset: number, path?: string) {
    this.#m = m;
    this.access = access;
    this.offset = offset;
    this.#path = path;
    this.#views = new MappingViews(this.#slabSource, m.byteLength, path);
  }

  #backendIfOpen(): BackendMapping {
    if (this.#m === null) throw closedError();
    return this.#m;
  }

  #viewsIfOpen(): MappingViews {
    if (this.#views === null) throw closedError();
    return this.#views;
  }

  // A slab of the backend mapping. Where the runtime refuses external
  // buffers, the first one is refused (ERR_MEMMAP_NO_EXTERNAL) and the
  // backend mapping is replaced, once, by its heap copy (heapCopy in
  // lib/backend.ts), or the owner's (copyAs): every call goes to the copy
  // from then on. Slabs are only asked for while the mapping is open.
  #slab(start: number, length: number, pinned: boolean | undefined): Slab {
    const m = this.#m!;
    try {
      return m.slab(start, length, pinned);
    } catch (e) {
      if (m.heapCopy === undefined || (e as { code?: unknown }).code !== "ERR_MEMMAP_NO_EXTERNAL") throw e;
      this.#m = m.heapCopy(this.#copyAs);
      return this.#m.slab(start, length, pinned);
    }
  }

  /** Size of the mapping in bytes. 0 after unmap(). */
  get byteLength(): number {
    return this.#m?.byteLength ?? 0;
  }

  /** True after unmap(). */
  get closed(): boolean {
    return this.#m === null;
  }

  /**
   * True once the file shrank (or failed) under the mapping and the fault
   * guard replaced pages past its end with zeros instead of letting the
   * process die of SIGBUS. Reads there see zeros; writes there are lost, so
   * flush() and unmap() of a "write" mapping then fail with
   * ERR_MEMMAP_TRUNCATED.
   */
  get faulted(): boolean {
    return this.#m === null ? this.#faultedAtUnmap : this.#m.faults > 0;
  }

  #watchFaults(fn: (fault: Fault) => void): void {
    const m = this.#backendIfOpen();
    // The Mapping keeps the function alive; the addon holds it weakly.
    this.#onFault = (offset: number, length: number, pages: number) => fn({ mapping: this, offset, length, pages });
    m.onFault(this.#onFault);
  }

  /**
   * A zero-copy Buffer over the whole mapping (the same Buffer each time).
   * @throws RangeError (ERR_OUT_OF_RANGE) when the mapping is larger than
   *   `buffer.constants.MAX_LENGTH`; use {@link Mapping.view} for slabs on it.
   */
  get buffer(): Buffer<ArrayBuffer> {
    return this.#viewsIfOpen().whole();
  }

  /**
   * A zero-copy Buffer over `length` bytes at `offset` (mapping coordinates),
   * cut out of one of the mapping's slabs: its `.buffer` is that slab
   * (as a pooled Buffer's is the pool), and its `byteOffset` is where the
   * view starts in it. It costs about what `subarray` costs.
   * @example const header = m.view(0, 64);
   */
  view(offset: number, length?: number): Buffer<ArrayBuffer> {
    return this.#viewsIfOpen().view(offset, length);
  }

  /**
   * A typed array of `Ctor` over the mapping, zero-copy: `length` elements
   * from `byteOffset` (omitted: to the end, which must be a whole number of
   * elements). Detached by unmap() and resize(), like a view. The mapping's
   * file offset and `byteOffset` must both be multiples of the element size.
   * @example const weights = m.typed(Float32Array, header.dataOffset, header.count);
   */
  typed<C extends TypedArrayConstructor>(Ctor: C, byteOffset: number, length?: number): TypedArrayOf<C> {
    return this.#viewsIfOpen().typed(Ctor, byteOffset, length, this.offset);
  }

  /**
   * An ArrayBuffer of exactly bytes [start, end) of the mapping, zero-copy,
   * for readers that take an ArrayBuffer. `start` and `end` are clamped as
   * ArrayBuffer.prototype.slice clamps them (negative: from the end).
   * Detached by unmap() and resize(). Each call makes a new ArrayBuffer
   * (a native slab, collected when dropped; on Bun kept until unmap());
   * cut many small pieces with view(). On the portable backend a part is a
   * copy: refused (ENOTSUP) for writable mappings, whose writes to it would
   * be lost.
   */
  arrayBuffer(start?: number, end?: number): ArrayBuffer {
    return this.#viewsIfOpen().exact(start, end, this.access !== "read");
  }

  /**
   * The `{ byteLength, slice(start, end) }` shape that hyparquet and
   * similar readers take (an "AsyncBuffer"); `slice` is arrayBuffer().
   * `byteLength` is the length now: after resize(), make another.
   * @example const rows = await parquetReadObjects({ file: m.asyncBuffer() });
   */
  asyncBuffer(): { readonly byteLength: number; slice(start: number, end?: number): ArrayBuffer } {
    this.#viewsIfOpen();
    const byteLength = this.byteLength;
    return { byteLength, slice: (start: number, end?: number) => this.arrayBuffer(start, end) };
  }

  /**
   * Views of `size` bytes that cover the mapping from start to end, each
   * starting `size - overlap` bytes after the last (the last may be
   * shorter): for mappings too large for one Buffer, and for readers that
   * take a stream of chunks. Made one at a time, as the loop asks.
   * @example for (const chunk of m.chunks(64 << 20)) hash.update(chunk);
   */
  chunks(size: number, overlap = 0): Generator<Buffer<ArrayBuffer>, void, undefined> {
    this.#viewsIfOpen();
    validateInteger(size, "size", 1, Math.min(bufferConstants.MAX_LENGTH, MAX_SAFE));
    validateInteger(overlap, "overlap", 0, size - 1);
    return this.#chunks(size, size - overlap);
  }

  *#chunks(size: number, step: number): Generator<Buffer<ArrayBuffer>, void, undefined> {
    for (let at = 0; ; at += step) {
      // Read again at each step: ERR_MEMMAP_CLOSED once unmapped, and a
      // resize() during the loop is followed. Done when the last chunk
      // reached the end as it is now.
      const total = this.#backendIfOpen().byteLength;
      if (at >= total || (at > 0 && at - step + size >= total)) return;
      yield this.view(at, Math.min(size, total - at));
    }
  }

  // Copies `data` into the mapping at a checked offset, through a slab (no view made).
  #write(offset: number, data: Uint8Array): void {
    this.#viewsIfOpen().write(offset, data);
  }

  // Runs a backend call on a checked range; system failures carry the path.
  #callOnRange<T>(range: Range | undefined, call: (m: BackendMapping, offset: number, length: number) => T): T {
    const m = this.#backendIfOpen();
    const r = resolveRange(range, m.byteLength);
    return backendCall(() => call(m, r.offset, r.length), this.#path);
  }

  // The same for thread-pool work: argument errors reject, they do not throw.
  #callOnRangeAsync(range: Range | undefined, call: (m: BackendMapping, offset: number, length: number) => Promise<void>): Promise<void> {
    let m: BackendMapping;
    let r: { offset: number; length: number };
    try {
      m = this.#backendIfOpen();
      r = resolveRange(range, m.byteLength);
    } catch (e) {
      return Promise.reject(e);
    }
    return backendCallAsync(() => call(m, r.offset, r.length), this.#path);
  }

  /** Writes the range back to the file and waits for it (msync MS_SYNC), off the main thread. */
  flush(range?: Range): Promise<void> {
    return this.#callOnRangeAsync(range, (m, offset, length) => m.flush(offset, length));
  }

  /** Writes the range back to the file and waits for it (msync MS_SYNC), on this thread. */
  flushSync(range?: Range): void {
    this.#callOnRange(range, (m, offset, length) => m.flushSync(offset, length));
  }

  /** Schedules write-back of the range and returns at once (msync MS_ASYNC). */
  scheduleFlush(range?: Range): void {
    this.#callOnRange(range, (m, offset, length) => m.scheduleFlush(offset, length));
  }

  /** Tells the kernel how the range will be used (madvise). */
  advise(advice: Advice, range?: Range): void {
    this.#backendIfOpen();
    validateOneOf(advice, "advice", backend.adviceNames);
    this.#callOnRange(range, (m, offset, length) => m.advise(offset, length, advice));
  }

  /** Pages the range into memory on the thread pool, so the event loop does not stall on page faults. */
  prefetch(range?: Range): Promise<void> {
    return this.#callOnRangeAsync(range, (m, offset, length) => m.prefetch(offset, length));
  }

  /**
   * Locks the range in memory (mlock). For "read" and "copy" mappings the
   * file's page-cache pages are locked, without copying them.
   * @throws an error with code ENOMEM or EPERM when RLIMIT_MEMLOCK refuses.
   */
  lock(range?: Range): void {
    this.#callOnRange(range, (m, offset, length) => m.lock(offset, length, true));
  }

  /** Undoes {@link Mapping.lock} for the range (munlock). */
  unlock(range?: Range): void {
    this.#callOnRange(range, (m, offset, length) => m.lock(offset, length, false));
  }

  /** Which pages of the range are in memory (mincore). */
  residency(range?: Range): Residency {
    const map = this.#callOnRange(range, (m, offset, length) => m.residency(offset, length));
    let resident = 0;
    for (let i = 0; i < map.length; i++) resident += map[i]!;
    return { pageSize, pages: map.length, resident, map };
  }

  /**
   * The mapping's own file descriptor (valid until unmap()), or -1: for a
   * shared mapping, what to hand a child process (`spawn(..., { stdio: [..., m.fd] })`)
   * so that `map(fd, { access: "write" })` there maps the same memory.
   * On Windows shared memory has no descriptor Node knows (a section, which
   * the C runtime will not take: docs/backends.md), so it is -1 there; name
   * it with openShared() to share it with another process.
   */
  get fd(): number {
    return this.#backendIfOpen().fd;
  }

  /**
   * A structured-cloneable handle on an anonymous shared mapping, for
   * {@link attach} in another worker thread. The handle keeps nothing alive:
   * the memory lives while any mapping of it does, in whichever thread.
   * @throws ERR_MEMMAP_NOT_SHAREABLE unless made by mapAnonymous(n, { shared: true }).
   */
  share(): SharedHandle {
    const m = this.#backendIfOpen();
    return Object.freeze({ kind: "memmap.SharedHandle" as const, id: backendCall(() => m.share(), this.#path), byteLength: m.byteLength });
  }

  #wordOffset(index: unknown, name = "index"): number {
    const m = this.#backendIfOpen();
    return validateInteger(index, name, 0, Math.floor(m.byteLength / 4) - 1) * 4;
  }

  /**
   * Blocks until {@link Mapping.notify} wakes the 32-bit word at `index`
   * (an Int32Array index) or `timeoutMs` passes, if the word still holds
   * `expected` (like Atomics.wait, across threads and processes: futex).
   * Refused on the main thread unless `allowMainThread` is set.
   */
  wait(index: number, expected: number, timeoutMs = Infinity, options?: { allowMainThread?: boolean }): WaitResult {
    const at = this.#wordOffset(index);
    validateInteger(expected, "expected", -0x80000000, 0x7fffffff);
    const timeout = timeoutMs === Infinity ? -1 : validateInteger(timeoutMs, "timeoutMs");
    if (isMainThread && !optionalBoolean(optionsObject(options), "allowMainThread")) {
      throw memmapError("ERR_MEMMAP_BLOCKING", "wait() blocks the thread: use waitAsync() on the main thread, or pass { allowMainThread: true }");
    }
    return backendCall(() => this.#backendIfOpen().wait(at, expected, timeout));
  }

  /**
   * {@link Mapping.wait} without blocking: on a waiter thread of memmap's
   * own, never on the thread pool. Like Atomics.waitAsync, a pending wait
   * does not keep the event loop alive, unless `persistent` is set (as
   * fs.watch's option). unmap(), or the mapping's collection, rejects it
   * with ERR_MEMMAP_CLOSED.
   */
  waitAsync(index: number, expected: number, timeoutMs = Infinity, options?: { persistent?: boolean }): Promise<WaitResult> {
    try {
      const at = this.#wordOffset(index);
      validateInteger(expected, "expected", -0x80000000, 0x7fffffff);
      const timeout = timeoutMs === Infinity ? -1 : validateInteger(timeoutMs, "timeoutMs");
      const persistent = optionalBoolean(optionsObject(options), "persistent");
      const m = this.#backendIfOpen();
      return backendCallAsync(() => m.waitAsync(at, expected, timeout, persistent));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Wakes up to `count` waiters on the word at `index`, in any thread or process. Returns how many woke. */
  notify(index: number, count = Infinity): number {
    const at = this.#wordOffset(index);
    const n = count === Infinity ? 0x7fffffff : validateInteger(count, "count", 0, 0x7fffffff);
    return backendCall(() => this.#backendIfOpen().notify(at, n));
  }

  /**
   * Changes the mapping's length (mremap). A "write" mapping grows its file
   * first (reserving the blocks); a "read" or "copy" mapping cannot pass the
   * end of its file. Every Buffer handed out before is detached; locks are
   * released.
   * @throws Error ERR_MEMMAP_BUSY while a flush() or prefetch() is running.
   */
  resize(newLength: number): void {
    const m = this.#backendIfOpen();
    validateInteger(newLength, "newLength");
    try {
      backendCall(() => m.resize(newLength), this.#path);
    } catch (e) {
      throw fixedSizeSection(e);
    }
    this.#views!.detachCopies();
    this.#views = new MappingViews(this.#slabSource, m.byteLength, this.#path); // the old slabs were detached
  }

  /**
   * Unmaps. Every Buffer handed out is detached first. Calling it again does
   * nothing. Returns true the first time.
   */
  unmap(): boolean {
    const m = this.#m;
    if (m === null) return false;
    this.#views!.detachCopies();
    this.#dropBackend(m);
    return backendCall(() => m.unmap(), this.#path);
  }

  /**
   * Gives up the mapping without detaching anything, as numpy.memmap does:
   * every view, typed array and ArrayBuffer made from it stays valid, and
   * the range is unmapped once the last of them is garbage-collected. The
   * Mapping itself is closed (its methods throw ERR_MEMMAP_CLOSED). Use it
   * when data read through the mapping (an Arrow table, say) must outlive
   * the code that mapped it; use unmap() to give the range back now.
   * Returns false if already unmapped or released. On the portable backend
   * a "write" mapping cannot be released (ENOTSUP): flush() and unmap().
   * The onFault callback stays, and is told of faults through the views
   * that outlive the Mapping, until the range goes.
   * @throws Error ERR_MEMMAP_TRUNCATED for a "write" mapping whose file
   *   shrank under it (released all the same), as unmap() does.
   * @example
   * function load(path) { const m = map(path); const t = tableFromIPC(m.buffer); m.release(); return t; }
   */
  release(): boolean {
    const m = this.#m;
    if (m === null) return false;
    // Refused (portable "write"): still open. Otherwise released, even when
    // it throws ERR_MEMMAP_TRUNCATED.
    const released = backendCall(() => {
      try {
        return m.release();
      } catch (e) {
        if ((e as { code?: unknown }).code === "ERR_MEMMAP_TRUNCATED") this.#dropBackend(m);
        throw e;
      }
    }, this.#path);
    this.#dropBackend(m);
    return released;
  }

  // The Mapping lets go of its backend mapping (unmap() or release()).
  #dropBackend(m: BackendMapping): void {
    this.#faultedAtUnmap = m.faults > 0;
    this.#m = null;
    this.#views = null;
  }

  /** Same as unmap(), for `using m = map(...)`. */
  [Symbol.dispose](): void {
    this.unmap();
  }
}
