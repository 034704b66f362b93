// The public mapping API: map(), mapAnonymous() and the Mapping class.
import { constants as bufferConstants } from "node:buffer";
import { isMainThread } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import type { FileHandle } from "node:fs/promises";
import type { Access, Advice, BackendMapping, FileAdvice, WaitResult } from "./backend.js";
import { backend } from "./select.js";
import { MAX_SLAB, Slabs, type Slab, type SlabSource } from "./slabs.js";
import { detachHeap } from "./detach.js";
import { elementSize, elementsToBytes, typedCount, type TypedArrayConstructor, type TypedArrayOf } from "./typed.js";
import { closedError, fromNative, memmapError, invalidArgType, invalidArgValue, backendCall, backendCallAsync, rangeError, fixedSizeSection } from "./errors.js";
import {
  clampSlice, MAX_SAFE, optionalBoolean, optionalInteger, optionsObject, optionsSnapshot, resolveRange, spanLength, validateInteger, validateOneOf, type Range,
} from "./validate.js";

export type { Access, Range };

/** What can be mapped: a path, a `file:` URL, a file descriptor or a FileHandle. */
export type FileLike = string | URL | number | FileHandle;

export interface MapOptions {
  /**
   * - `"read"` (default): the file's bytes. A write through the Buffer does not
   *   crash and never reaches the file: the mapping is private and writable
   *   (MAP_PRIVATE | MAP_NORESERVE), so a write lands in a private copy of the page.
   * - `"write"`: shared with the file (MAP_SHARED); flush() makes writes durable.
   * - `"copy"`: copy-on-write; writes are visible in the mapping, never in the file.
   */
  access?: Access;
  /** First byte of the file to map; any byte offset (aligned down internally). Default 0. */
  offset?: number;
  /** Bytes to map. Default: from `offset` to the end of the file. */
  length?: number;
  /** With `"write"`: create the file if missing and grow it to at least `size` bytes, reserving the blocks. */
  size?: number;
  /** Permission bits for a file created by `size`. Default 0o666 (less the umask). */
  mode?: number;
  /** Map the pages executable as well (PROT_EXEC). Default false. */
  exec?: boolean;
  /** Fault every page in now (MAP_POPULATE), without copying pages of private mappings. Default false. */
  populate?: boolean;
  /** Ask for transparent huge pages (madvise MADV_HUGEPAGE; a hint). Default false. */
  hugePages?: boolean;
  /** Lock the pages in memory (mlock) now. Default false. */
  lock?: boolean;
  /**
   * Called (on this thread, from the event loop) when the file shrinks or
   * fails under the mapping and the fault guard replaced pages with zeros.
   * See {@link Mapping.faulted}.
   */
  onFault?: (fault: Fault) => void;
}

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

export interface AnonymousOptions {
  /** MAP_SHARED instead of MAP_PRIVATE (shared with child processes forked by native code). Default false. */
  shared?: boolean;
  populate?: boolean;
  hugePages?: boolean;
  lock?: boolean;
  exec?: boolean;
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
 * A memory mapping. Made by {@link map} or {@link mapAnonymous}.
 *
 * Every Buffer it hands out is detached by {@link Mapping.unmap} (and by
 * {@link Mapping.resize}), so no code can reach unmapped memory: a detached
 * Buffer has length 0 and reads `undefined`.
 */
/**
 * What the rest of lib/ (and the tests) may do with a Mapping that users
 * cannot: set by Mapping's static block, not exported from the package.
 */
export let mappingInternals: {
  watchFaults(m: Mapping, fn: (fault: Fault) => void): void;
  write(m: Mapping, offset: number, data: Uint8Array): void;
  /** Windows the mapping made (lib/slabs.ts). */
  slabCount(m: Mapping): number;
};

export class Mapping implements Disposable {
  #m: BackendMapping | null;
  // What the slabs are cut from: #m, as it is at each slab (see #slab).
  readonly #slabSource: SlabSource = { slab: (start, length, pinned) => this.#slab(start, length, pinned) };
  #slabs: Slabs | null;
  #buffer: Buffer<ArrayBuffer> | undefined;
  readonly #path: string | undefined;
  #faultedAtUnmap = false;
  #onFault: ((offset: number, length: number, pages: number) => void) | undefined;
  /** The file offset of the first byte (0 for anonymous mappings). */
  readonly offset: number;
  /** `"read"`, `"write"`, `"copy"`, or `"anonymous"`. */
  readonly access: Access | "anonymous";

  static {
    mappingInternals = {
      watchFaults: (m, fn) => m.#watchFaults(fn),
      write: (m, offset, data) => m.#write(offset, data),
      slabCount: (m) => m.#slabs?.count ?? 0,
    };
  }

  /** @internal Use map() or mapAnonymous(). */
  constructor(m: BackendMapping, access: Access | "anonymous", offset: number, path?: string) {
    this.#m = m;
    this.#slabs = new Slabs(this.#slabSource, m.byteLength);
    this.access = access;
    this.offset = offset;
    this.#path = path;
  }

  #open(): BackendMapping {
    if (this.#m === null) throw closedError();
    return this.#m;
  }

  #openSlabs(): Slabs {
    if (this.#slabs === null) throw closedError();
    return this.#slabs;
  }

  // A slab of the backend mapping. Where the runtime refuses external
  // buffers, the first one is refused (ERR_MEMMAP_NO_EXTERNAL) and the
  // backend mapping is replaced, once, by its heap copy (heapCopy in
  // lib/backend.ts): every call goes to the copy from then on. Slabs are
  // only asked for while the mapping is open.
  #slab(start: number, length: number, pinned: boolean | undefined): Slab {
    const m = this.#m!;
    try {
      return m.slab(start, length, pinned);
    } catch (e) {
      if (m.heapCopy === undefined || (e as { code?: unknown }).code !== "ERR_MEMMAP_NO_EXTERNAL") throw e;
      this.#m = m.heapCopy();
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
    const m = this.#open();
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
    const w = this.#openSlabs();
    // Made again if its memory was moved away (ArrayBuffer.prototype.transfer).
    if (this.#buffer === undefined || (this.#buffer.length === 0 && this.#m!.byteLength > 0)) {
      const length = this.#m!.byteLength;
      if (length > bufferConstants.MAX_LENGTH) {
        throw rangeError(
          `The mapping (${length} bytes) is larger than a Buffer can be ` +
            `(buffer.constants.MAX_LENGTH = ${bufferConstants.MAX_LENGTH}); use view(offset, length)`,
        );
      }
      this.#buffer = backendCall(() => w.whole(), this.#path);
    }
    return this.#buffer;
  }

  /**
   * A zero-copy Buffer over `length` bytes at `offset` (mapping coordinates),
   * cut out of one of the mapping's slabs: its `.buffer` is that slab
   * (as a pooled Buffer's is the pool), and its `byteOffset` is where the
   * view starts in it. It costs about what `subarray` costs.
   * @example const header = m.view(0, 64);
   */
  view(offset: number, length?: number): Buffer<ArrayBuffer> {
    const w = this.#openSlabs();
    const size = this.#m!.byteLength;
    const len = spanLength(offset, length, size);
    if (len > bufferConstants.MAX_LENGTH) {
      throw rangeError(`A view can be at most buffer.constants.MAX_LENGTH (${bufferConstants.MAX_LENGTH}) bytes`);
    }
    try {
      return w.view(offset, len); // no closure on this path: it is the hot one
    } catch (e) {
      throw fromNative(e, this.#path);
    }
  }

  /**
   * A typed array of `Ctor` over the mapping, zero-copy: `length` elements
   * from `byteOffset` (omitted: to the end, which must be a whole number of
   * elements). Detached by unmap() and resize(), like a view. The mapping's
   * file offset and `byteOffset` must both be multiples of the element size.
   * @example const weights = m.typed(Float32Array, header.dataOffset, header.count);
   */
  typed<C extends TypedArrayConstructor>(Ctor: C, byteOffset: number, length?: number): TypedArrayOf<C> {
    const w = this.#openSlabs();
    const count = typedCount(Ctor, byteOffset, length, this.#m!.byteLength, this.offset, MAX_SLAB);
    try {
      return w.typed(Ctor as unknown as new (b: ArrayBuffer, o: number, n: number) => TypedArrayOf<C>, Ctor.BYTES_PER_ELEMENT, byteOffset, count);
    } catch (e) {
      throw fromNative(e, this.#path);
    }
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
    const w = this.#openSlabs();
    const [from, to] = clampSlice(start, end, this.#m!.byteLength);
    if (to - from > MAX_SLAB) {
      throw rangeError(`An ArrayBuffer here can be at most ${MAX_SLAB} bytes; use view() or chunks()`);
    }
    try {
      return w.exact(from, to - from, this.access !== "read");
    } catch (e) {
      throw fromNative(e, this.#path);
    }
  }

  /**
   * The `{ byteLength, slice(start, end) }` shape that hyparquet and
   * similar readers take (an "AsyncBuffer"); `slice` is arrayBuffer().
   * `byteLength` is the length now: after resize(), make another.
   * @example const rows = await parquetReadObjects({ file: m.asyncBuffer() });
   */
  asyncBuffer(): { readonly byteLength: number; slice(start: number, end?: number): ArrayBuffer } {
    this.#openSlabs();
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
    this.#openSlabs();
    validateInteger(size, "size", 1, Math.min(bufferConstants.MAX_LENGTH, MAX_SAFE));
    validateInteger(overlap, "overlap", 0, size - 1);
    return this.#chunks(size, size - overlap);
  }

  *#chunks(size: number, step: number): Generator<Buffer<ArrayBuffer>, void, undefined> {
    for (let at = 0; ; at += step) {
      // Read again at each step: ERR_MEMMAP_CLOSED once unmapped, and a
      // resize() during the loop is followed. Done when the last chunk
      // reached the end as it is now.
      const total = this.#open().byteLength;
      if (at >= total || (at > 0 && at - step + size >= total)) return;
      yield this.view(at, Math.min(size, total - at));
    }
  }

  // Copies `data` into the mapping at a checked offset, through a slab (no view made).
  #write(offset: number, data: Uint8Array): void {
    const w = this.#openSlabs();
    try {
      w.write(offset, data); // no closure: OutputFile.write() calls this per record
    } catch (e) {
      throw fromNative(e, this.#path);
    }
  }

  // Runs a backend call on a checked range; system failures carry the path.
  #onRange<T>(range: Range | undefined, call: (m: BackendMapping, offset: number, length: number) => T): T {
    const m = this.#open();
    const r = resolveRange(range, m.byteLength);
    return backendCall(() => call(m, r.offset, r.length), this.#path);
  }

  // The same for thread-pool work: argument errors reject, they do not throw.
  #onRangeAsync(range: Range | undefined, call: (m: BackendMapping, offset: number, length: number) => Promise<void>): Promise<void> {
    let m: BackendMapping;
    let r: { offset: number; length: number };
    try {
      m = this.#open();
      r = resolveRange(range, m.byteLength);
    } catch (e) {
      return Promise.reject(e);
    }
    return backendCallAsync(() => call(m, r.offset, r.length), this.#path);
  }

  /** Writes the range back to the file and waits for it (msync MS_SYNC), off the main thread. */
  flush(range?: Range): Promise<void> {
    return this.#onRangeAsync(range, (m, offset, length) => m.flush(offset, length));
  }

  /** Writes the range back to the file and waits for it (msync MS_SYNC), on this thread. */
  flushSync(range?: Range): void {
    this.#onRange(range, (m, offset, length) => m.flushSync(offset, length));
  }

  /** Schedules write-back of the range and returns at once (msync MS_ASYNC). */
  scheduleFlush(range?: Range): void {
    this.#onRange(range, (m, offset, length) => m.scheduleFlush(offset, length));
  }

  /** Tells the kernel how the range will be used (madvise). */
  advise(advice: Advice, range?: Range): void {
    this.#open();
    validateOneOf(advice, "advice", backend.adviceNames);
    this.#onRange(range, (m, offset, length) => m.advise(offset, length, advice));
  }

  /** Pages the range into memory on the thread pool, so the event loop does not stall on page faults. */
  prefetch(range?: Range): Promise<void> {
    return this.#onRangeAsync(range, (m, offset, length) => m.prefetch(offset, length));
  }

  /**
   * Locks the range in memory (mlock). For "read" and "copy" mappings the
   * file's page-cache pages are locked, without copying them.
   * @throws an error with code ENOMEM or EPERM when RLIMIT_MEMLOCK refuses.
   */
  lock(range?: Range): void {
    this.#onRange(range, (m, offset, length) => m.lock(offset, length, true));
  }

  /** Undoes {@link Mapping.lock} for the range (munlock). */
  unlock(range?: Range): void {
    this.#onRange(range, (m, offset, length) => m.lock(offset, length, false));
  }

  /** Which pages of the range are in memory (mincore). */
  residency(range?: Range): Residency {
    const map = this.#onRange(range, (m, offset, length) => m.residency(offset, length));
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
    return this.#open().fd;
  }

  /**
   * A structured-cloneable handle on an anonymous shared mapping, for
   * {@link attach} in another worker thread. The handle keeps nothing alive:
   * the memory lives while any mapping of it does, in whichever thread.
   * @throws ERR_MEMMAP_NOT_SHAREABLE unless made by mapAnonymous(n, { shared: true }).
   */
  share(): SharedHandle {
    const m = this.#open();
    return Object.freeze({ kind: "memmap.SharedHandle" as const, id: backendCall(() => m.share(), this.#path), byteLength: m.byteLength });
  }

  #word(index: unknown, name = "index"): number {
    const m = this.#open();
    return validateInteger(index, name, 0, Math.floor(m.byteLength / 4) - 1) * 4;
  }

  /**
   * Blocks until {@link Mapping.notify} wakes the 32-bit word at `index`
   * (an Int32Array index) or `timeoutMs` passes, if the word still holds
   * `expected` (like Atomics.wait, across threads and processes: futex).
   * Refused on the main thread unless `allowMainThread` is set.
   */
  wait(index: number, expected: number, timeoutMs = Infinity, options?: { allowMainThread?: boolean }): WaitResult {
    const at = this.#word(index);
    validateInteger(expected, "expected", -0x80000000, 0x7fffffff);
    const timeout = timeoutMs === Infinity ? -1 : validateInteger(timeoutMs, "timeoutMs");
    if (isMainThread && !optionalBoolean(optionsObject(options), "allowMainThread")) {
      throw memmapError("ERR_MEMMAP_BLOCKING", "wait() blocks the thread: use waitAsync() on the main thread, or pass { allowMainThread: true }");
    }
    return backendCall(() => this.#open().wait(at, expected, timeout));
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
      const at = this.#word(index);
      validateInteger(expected, "expected", -0x80000000, 0x7fffffff);
      const timeout = timeoutMs === Infinity ? -1 : validateInteger(timeoutMs, "timeoutMs");
      const persistent = optionalBoolean(optionsObject(options), "persistent");
      const m = this.#open();
      return backendCallAsync(() => m.waitAsync(at, expected, timeout, persistent));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Wakes up to `count` waiters on the word at `index`, in any thread or process. Returns how many woke. */
  notify(index: number, count = Infinity): number {
    const at = this.#word(index);
    const n = count === Infinity ? 0x7fffffff : validateInteger(count, "count", 0, 0x7fffffff);
    return backendCall(() => this.#open().notify(at, n));
  }

  /**
   * Changes the mapping's length (mremap). A "write" mapping grows its file
   * first (reserving the blocks); a "read" or "copy" mapping cannot pass the
   * end of its file. Every Buffer handed out before is detached; locks are
   * released.
   * @throws Error ERR_MEMMAP_BUSY while a flush() or prefetch() is running.
   */
  resize(newLength: number): void {
    const m = this.#open();
    validateInteger(newLength, "newLength");
    try {
      backendCall(() => m.resize(newLength), this.#path);
    } catch (e) {
      throw fixedSizeSection(e);
    }
    this.#buffer = undefined;
    this.#detachCopies();
    this.#slabs = new Slabs(this.#slabSource, m.byteLength); // the old ones were detached
  }

  /**
   * Unmaps. Every Buffer handed out is detached first. Calling it again does
   * nothing. Returns true the first time.
   */
  unmap(): boolean {
    const m = this.#m;
    if (m === null) return false;
    this.#detachCopies();
    this.#closeHandle(m);
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
        if ((e as { code?: unknown }).code === "ERR_MEMMAP_TRUNCATED") this.#closeHandle(m);
        throw e;
      }
    }, this.#path);
    this.#closeHandle(m);
    return released;
  }

  // The Mapping lets go of its backend mapping (unmap() or release()).
  #closeHandle(m: BackendMapping): void {
    this.#faultedAtUnmap = m.faults > 0;
    this.#m = null;
    this.#slabs = null;
    this.#buffer = undefined;
  }

  // The copies arrayBuffer() made where the backend cannot cut its memory
  // (portable) go with the mapping, as the slabs do.
  #detachCopies(): void {
    for (const copy of this.#slabs?.copies() ?? []) detachHeap(new Uint8Array(copy));
  }

  /** Same as unmap(), for `using m = map(...)`. */
  [Symbol.dispose](): void {
    this.unmap();
  }
}

const ACCESSES = ["read", "write", "copy"] as const;

function isFileHandle(value: object): value is FileHandle {
  return typeof (value as { fd?: unknown }).fd === "number" && typeof (value as { readFile?: unknown }).readFile === "function";
}

function resolveFile(file: unknown): { path: string | null; fd: number } {
  if (typeof file === "string") {
    if (file.length === 0) throw invalidArgValue("file", file, "must be a non-empty path");
    if (file.includes("\u0000")) throw invalidArgValue("file", file, "must be a string without null bytes");
    return { path: file, fd: -1 };
  }
  if (typeof file === "number") {
    return { path: null, fd: validateInteger(file, "file", 0, 0x7fffffff) };
  }
  if (file instanceof URL) {
    if (file.protocol !== "file:") throw invalidArgValue("file", file.href, "must be a URL with the file: scheme");
    return resolveFile(fileURLToPath(file));
  }
  if (typeof file === "object" && file !== null && isFileHandle(file)) {
    if (file.fd < 0) throw invalidArgValue("file", "FileHandle", "must be an open FileHandle");
    return { path: null, fd: file.fd };
  }
  throw invalidArgType("file", "of type string or an instance of URL, FileHandle or a file descriptor (number)", file);
}

// Every option of map(): map() and mapTyped() read each once, before any check.
const MAP_OPTIONS = ["access", "offset", "length", "size", "mode", "exec", "populate", "hugePages", "lock", "onFault"] as const;

/**
 * Maps a file into memory.
 *
 * @example
 * using m = map("data.bin");
 * console.log(m.buffer.readUInt32LE(0));
 *
 * @throws TypeError/RangeError for bad arguments (ERR_INVALID_ARG_TYPE,
 *   ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE), RangeError ERR_OUT_OF_RANGE
 *   when the range passes the end of the file, and fs-style errors (ENOENT,
 *   EACCES, ENOSPC, ...) from the system.
 */
export function map(file: FileLike, options?: MapOptions): Mapping {
  const { path, fd } = resolveFile(file);
  const o = optionsSnapshot(options, MAP_OPTIONS);
  const access = o["access"] === undefined ? "read" : validateOneOf(o["access"], "options.access", ACCESSES);
  const offset = optionalInteger(o, "offset", 0);
  const length = optionalInteger(o, "length", -1);
  const size = optionalInteger(o, "size", -1);
  if (size >= 0 && access !== "write") {
    throw invalidArgValue("options.size", size, "can only be used with access 'write'");
  }
  const mode = o["mode"] === undefined ? 0o666 : validateInteger(o["mode"], "options.mode", 0, 0o7777);
  const req = {
    path, fd, access, offset, length, size, mode,
    exec: optionalBoolean(o, "exec"),
    populate: optionalBoolean(o, "populate"),
    hugePages: optionalBoolean(o, "hugePages"),
    lock: optionalBoolean(o, "lock"),
  };
  const onFault = o["onFault"];
  if (onFault !== undefined && typeof onFault !== "function") throw invalidArgType("options.onFault", "of type function", onFault);
  const m = backendCall(() => backend.mapFile(req), path ?? undefined);
  const mapping = new Mapping(m, access, offset, path ?? undefined);
  if (typeof onFault === "function") mappingInternals.watchFaults(mapping, onFault as (fault: Fault) => void);
  return mapping;
}

/**
 * Maps a file as a typed array, as numpy.memmap does: `options` are map()'s,
 * with `offset` in bytes (a multiple of the element size) and `length` and
 * `size` in elements. Returns the mapping (to flush, unmap, or `using`) and
 * the array over all of it.
 * @example
 * const { mapping, array } = mapTyped("weights.f32", Float32Array, { access: "write", size: 4096 }); // a 16 KiB file
 */
export function mapTyped<C extends TypedArrayConstructor>(
  file: FileLike, Ctor: C, options?: MapOptions,
): { mapping: Mapping; array: TypedArrayOf<C> } {
  const size = elementSize(Ctor);
  // Read once: a getter cannot pass the offset check below and then map
  // another offset (or make a file that a refused call leaves behind).
  const o = optionsSnapshot(options, MAP_OPTIONS);
  const length = elementsToBytes(o["length"], "options.length", size);
  const fileSize = elementsToBytes(o["size"], "options.size", size);
  // Checked before map(), which may make or grow the file.
  const offset = o["offset"];
  if (typeof offset === "number" && Number.isInteger(offset) && offset % size !== 0) {
    throw invalidArgValue("options.offset", offset, `is not a multiple of ${size} (the element size of ${Ctor.name})`);
  }
  const mapping = map(file, { ...o, ...(length !== undefined && { length }), ...(fileSize !== undefined && { size: fileSize }) } as MapOptions);
  try {
    if (length === undefined && mapping.byteLength % size !== 0) {
      throw invalidArgValue("options.length", undefined,
        `must be given (in elements): the ${mapping.byteLength} bytes from file offset ${mapping.offset} to the end ` +
          `are not a whole number of ${size}-byte elements of ${Ctor.name}`);
    }
    return { mapping, array: mapping.typed(Ctor, 0) };
  } catch (e) {
    mapping.unmap();
    throw e;
  }
}

/**
 * Maps anonymous memory (MAP_ANONYMOUS), zero-filled.
 * @example
 * using m = mapAnonymous(1 << 20);
 * m.buffer.fill(7);
 */
export function mapAnonymous(length: number, options?: AnonymousOptions): Mapping {
  validateInteger(length, "length");
  const o = optionsObject(options);
  const req = {
    length,
    shared: optionalBoolean(o, "shared"),
    exec: optionalBoolean(o, "exec"),
    populate: optionalBoolean(o, "populate"),
    hugePages: optionalBoolean(o, "hugePages"),
    lock: optionalBoolean(o, "lock"),
  };
  return new Mapping(backendCall(() => backend.mapAnonymous(req)), "anonymous", 0);
}

/**
 * Advice to the kernel about a file's pages in the page cache
 * (posix_fadvise), without mapping it: `"dontneed"` evicts clean pages,
 * `"willneed"` starts reading ahead. `range.length` 0 (the default) means to
 * the end of the file.
 * @example adviseFile("big.log", "dontneed"); // drop it from the page cache
 * @throws fs-style errors (ENOENT, EBADF, ...); ERR_INVALID_ARG_VALUE for an unknown advice.
 */
export function adviseFile(file: FileLike, advice: FileAdvice, range?: Range): void {
  const { path, fd } = resolveFile(file);
  validateOneOf(advice, "advice", backend.fileAdviceNames);
  const r = optionsObject(range, "range");
  const offset = optionalInteger(r, "offset", 0);
  const length = optionalInteger(r, "length", 0);
  backendCall(() => backend.adviseFile(path, fd, offset, length, advice), path ?? undefined);
}
