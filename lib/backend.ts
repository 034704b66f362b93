// The contract between the public classes and the backends that make
// mappings (backends/native.ts, backends/portable.ts). select.ts is the one
// place where one is chosen.
import type { SlabSource } from "./slabs.js";

/** Named advice for Mapping#advise (madvise). Not every name exists on every platform. */
export const ADVICE = Object.freeze([
  "normal", "random", "sequential", "willneed", "dontneed", "free", "hugepage", "nohugepage",
  "mergeable", "unmergeable", "dontdump", "dodump", "dontfork", "dofork", "cold", "pageout",
  "populate_read", "populate_write",
] as const);
export type Advice = (typeof ADVICE)[number];

/** Advice about a file's page cache (posix_fadvise). */
export const FILE_ADVICE = Object.freeze(["normal", "sequential", "random", "willneed", "dontneed", "noreuse"] as const);
export type FileAdvice = (typeof FILE_ADVICE)[number];

/** What a wait ends with, as Atomics.wait says it. */
export type WaitResult = "ok" | "not-equal" | "timed-out";

/** How a file is mapped. */
export type Access = "read" | "write" | "copy";

export interface MapFileRequest {
  /** Path to open, or null when `fd` is given. */
  path: string | null;
  fd: number;
  access: Access;
  offset: number;
  /** -1: to the end of the file. */
  length: number;
  /** -1: do not create or grow. */
  size: number;
  mode: number;
  exec: boolean;
  populate: boolean;
  hugePages: boolean;
  lock: boolean;
}

export interface MapAnonymousRequest {
  length: number;
  shared: boolean;
  exec: boolean;
  populate: boolean;
  hugePages: boolean;
  lock: boolean;
}

/**
 * One mapping as a backend holds it. Offsets and lengths are already checked
 * against `byteLength` by the caller; the backend rechecks what it must to
 * stay safe. System failures are thrown as the addon throws them and pass
 * through errors.ts.
 */
export interface BackendMapping extends SlabSource {
  readonly byteLength: number;
  /**
   * Where the runtime refuses external buffers (Electron 21+; the test
   * addon's setRefuseExternalForTest), slab() throws ERR_MEMMAP_NO_EXTERNAL
   * at the mapping's first slab, before any of its memory reached
   * JavaScript. The owner then calls this, once, and uses what it returns
   * from then on: the same range as a heap mapping (Backend.heap), with
   * this one unmapped. Throws, leaving this mapping as it was, where the
   * memory cannot be copied (shared memory). Absent where slabs are never
   * refused (the portable backend).
   *
   * `make`, for a file mapping, makes the copy instead, `length` bytes of
   * the same range: the owner's own heap mapping of it, when its rules for
   * writing back differ from a mapping's (createOutput's region is written
   * back at commit only, around the parts that worker threads wrote).
   */
  heapCopy?(make?: (length: number) => BackendMapping): BackendMapping;
  /** Detaches every slab and releases the range; false if already released. */
  unmap(): boolean;
  /**
   * Gives up the mapping without detaching anything: the range is released
   * when the last slab over it is collected. False if already released.
   */
  release(): boolean;
  /** Writes the range back and waits for it (msync MS_SYNC). */
  flushSync(offset: number, length: number): void;
  /** Schedules write-back of the range and returns at once (msync MS_ASYNC). */
  scheduleFlush(offset: number, length: number): void;
  flush(offset: number, length: number): Promise<void>;
  prefetch(offset: number, length: number): Promise<void>;
  advise(offset: number, length: number, advice: string): void;
  lock(offset: number, length: number, lock: boolean): void;
  /** One byte a page, 1 where resident. */
  residency(offset: number, length: number): Uint8Array;
  resize(newLength: number): void;
  /** Pages the fault guard replaced because the file shrank (or failed) under the mapping. */
  readonly faults: number;
  /** Calls `fn` on this thread after new faults: the byte range that is gone, and the page count. */
  onFault(fn: ((offset: number, length: number, pages: number) => void) | null): void;
  /** The mapping's own descriptor (shared memory, files), or -1. */
  readonly fd: number;
  /** An id that attach() in another thread of this process maps. */
  share(): number;
  wait(byteOffset: number, expected: number, timeoutMs: number): WaitResult;
  waitAsync(byteOffset: number, expected: number, timeoutMs: number, persistent: boolean): Promise<WaitResult>;
  notify(byteOffset: number, count: number): number;
}

/** How a heap mapping treats the descriptor it is given (HeapMappings.mapDescriptor). */
export interface HeapFileOptions {
  /**
   * The descriptor can be read (a device an output writes to is opened
   * write-only): resize() reads what lies past the old end.
   */
  readable: boolean;
  /** Read what the file holds there now (past its end: zeros). A file just created holds nothing, and is not read. */
  fill: boolean;
  /** unmap() closes the descriptor. */
  own: boolean;
  /**
   * unmap() writes the range back. Without it only flush() does, so that
   * abandoning the mapping (an aborted output) writes nothing.
   */
  writeBack: boolean;
}

/**
 * Mappings held in heap memory, filled with positioned reads and written back
 * with positioned writes: the portable backend's. Every backend offers them,
 * for what cannot be mapped: createOutput()'s region on a file system
 * without mmap, and a native mapping where the runtime refuses external
 * buffers (BackendMapping.heapCopy).
 */
export interface HeapMappings {
  mapFile(req: MapFileRequest): BackendMapping;
  mapAnonymous(req: MapAnonymousRequest): BackendMapping;
  /**
   * A "write" mapping of `[offset, offset + length)` of a descriptor that is
   * already open (any regular file or device that read(2) and write(2)
   * take), for createOutput() where a file cannot be mapped: Go's linker
   * likewise has one output buffer, whose no-mmap form (outbuf_nommap.go) is
   * a heap slice written back to the file.
   */
  mapDescriptor(fd: number, offset: number, length: number, options: HeapFileOptions): BackendMapping;
}

export interface Backend {
  readonly name: "native" | "portable";
  /** Why this backend was chosen. */
  readonly reason: string;
  readonly pageSize: number;
  readonly allocationGranularity: number;
  readonly adviceNames: readonly string[];
  readonly fileAdviceNames: readonly string[];
  mapFile(req: MapFileRequest): BackendMapping;
  mapAnonymous(req: MapAnonymousRequest): BackendMapping;
  /** Maps the shared object `share()` gave an id for. */
  attach(id: number): BackendMapping;
  /** shm_open: [descriptor, created]. */
  shmOpen(name: string, create: boolean, exclusive: boolean, mode: number, size: number): [number, boolean];
  shmUnlink(name: string): void;
  /** Closes a descriptor shmOpen() returned. */
  closeShm(fd: number): void;
  /** posix_fadvise on a file, by path or descriptor; length 0: to the end. */
  adviseFile(path: string | null, fd: number, offset: number, length: number, advice: string): void;
  /**
   * Grows the file behind `fd` to `size` bytes (never shrinks it), reserving
   * the blocks where it can, so that a full disk is ENOSPC now and not at a
   * later write. A failure leaves the file's size as it was.
   */
  reserveFile(fd: number, size: number): void;
  /** Heap mappings, for what this backend cannot map (on the portable backend, its own mappings). */
  readonly heap: HeapMappings;
}
