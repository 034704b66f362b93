// OutputFile: the Go linker's mmap'd output writer (cmd/link OutBuf), made
// atomic. Once layout has fixed sizes and offsets, the caller fills a mapped
// region of the output in place (or from several worker threads through
// regions); content of unknown size is appended past it with plain file I/O;
// commit() flushes, truncates to the exact length, fsyncs and renames over
// the destination. Where the file cannot be mapped (or, from its first slab,
// where the runtime refuses external buffers), the region is the backend's
// heap mapping of the file (backend.heap), written back at commit, as
// the linker's outbuf_nommap.go is a branch of the same OutBuf: one Mapping
// either way, and no second no-mmap implementation here.
//
// The steps on the file system are in output-disk.ts, what a dropped output
// undoes in output-leftovers.ts, and a worker's side of a region in
// output-region.ts.
import { closeSync, ftruncateSync, openSync, unlinkSync } from "node:fs";
import * as fsp from "node:fs";
import { promisify } from "node:util";
import { resolve } from "node:path";
import { constants as bufferConstants } from "node:buffer";
import { fileURLToPath } from "node:url";
import { map } from "./map.js";
import { mappingInternals, type Mapping } from "./mapping.js";
import { writeFully } from "./io.js";
import { backend } from "./select.js";
import { closedError, invalidArgType, invalidArgValue, outOfRange, rangeError } from "./errors.js";
import { optionalBoolean, optionsSnapshot, spanLength, toBytes, validateInteger, MAX_SAFE } from "./validate.js";
import {
  linkTarget, namePaths, notSeekable, ofDestination, openInPlace, renameIntoPlace, renameIntoPlaceSync, reserveBlocks, statOrNull, tempPathFor,
  truncateDurably, truncateDurablySync,
} from "./output-disk.js";
import { forgetLeftover, trackLeftover, type Leftover } from "./output-leftovers.js";
import { heapRegion, type OutputRegion } from "./output-region.js";

const close = promisify(fsp.close);

export interface OutputOptions {
  /** Bytes of the mapped region, whose layout the caller knows. Required. */
  size: number;
  /** Permission bits of the new file (less the umask). Default 0o666. */
  mode?: number;
  /**
   * true (default): write a temporary file beside `path` and rename it over
   * `path` at commit, so that `path` is either its old content or the new
   * one, never a mix. false: write `path` in place.
   */
  atomic?: boolean;
  /** false: do not map; write through a heap buffer written back at commit (the fallback, forced). Default true. */
  mapped?: boolean;
}

// createOutput()'s `path`, resolved.
function toPath(path: unknown): string {
  if (path instanceof URL) {
    if (path.protocol !== "file:") throw invalidArgValue("path", path.href, "must be a URL with the file: scheme");
    return fileURLToPath(path);
  }
  if (typeof path !== "string") throw invalidArgType("path", "of type string or an instance of URL", path);
  if (path.length === 0 || path.includes("\u0000")) throw invalidArgValue("path", path, "must be a non-empty path without null bytes");
  return resolve(path);
}

// How the region is held where it is not mapped (backend.heap.mapDescriptor
// on the output's descriptor, readable and filled where it is a regular file
// with bytes): only commit writes it back, and only #writeBackRuns(), not
// the parts handed to workers, which wrote them into the file themselves.
const HEAP_REGION = { own: false, writeBack: false } as const;

/** For tests: not exported from the package. Set by OutputFile's static block. */
export let outputInternals: {
  /** Slabs the output's mapping made (lib/slabs.ts). */
  slabCount(o: OutputFile): number;
};

/**
 * An output file being written. Made by {@link createOutput}.
 *
 * The file is `[ mapped region of \`size\` bytes | appended tail ]`.
 */
export class OutputFile implements Disposable {
  /** The destination. */
  readonly path: string;
  /** The file being written: a temporary file beside `path` when atomic, else `path`. */
  readonly writePath: string;
  readonly atomic: boolean;
  /** False when the region is a heap buffer written at commit (the fallback). */
  readonly mapped: boolean;
  #fd: number;
  // The region: a mapping of the file, or the backend's heap mapping of it
  // (backend.heap.mapDescriptor) where it cannot be mapped, or from the first
  // slab of a runtime that refuses external buffers.
  #mapping: Mapping;
  // Whether #mapping is such a heap mapping now (only commit, or an abort
  // in place, writes it back).
  // Whether the region is heap memory (written back at commit): from the
  // start where it is not mapped, or from the first refused slab. A record
  // of its own, so that the copy's maker below does not capture the output:
  // on Windows the leftover (a FinalizationRegistry's held value) holds the
  // mapping, and a mapping that reached the output would keep it alive.
  readonly #heap: { on: boolean };
  #size: number;
  #tail = 0;
  #state: "open" | "committing" | "committed" | "aborted" = "open";
  #regions: Array<{ offset: number; length: number }> = [];
  readonly #created: boolean;
  readonly #regular: boolean;
  readonly #leftover: Leftover;
  // What commit renames over: `path`, or the end of its symbolic links.
  readonly #target: string;

  /** @internal Use createOutput(). */
  constructor(init: {
    path: string; target: string; writePath: string; atomic: boolean; fd: number; mapping: Mapping; mapped: boolean;
    size: number; created: boolean; regular: boolean;
  }) {
    this.path = init.path;
    this.#target = init.target;
    this.writePath = init.writePath;
    this.atomic = init.atomic;
    this.#fd = init.fd;
    this.#mapping = init.mapping;
    this.mapped = init.mapped;
    this.#heap = { on: !init.mapped };
    this.#size = init.size;
    this.#created = init.created;
    this.#regular = init.regular;
    this.#leftover = { fd: init.fd, path: init.writePath, remove: init.atomic || init.created };
    if (process.platform === "win32") this.#leftover.mapping = init.mapping;
    trackLeftover(this, this.#leftover);
    // Where the runtime refuses external buffers, a mapped region becomes a
    // heap mapping of the file at its first slab: the fallback's own
    // (HEAP_REGION), so that commit writes back the same runs either way.
    // A mapping's copy would be written back whole at unmap(), its bytes read
    // before the workers wrote over the regions. Read from the file, which
    // may hold bytes already (in place, or a tail that grow() took in).
    if (init.mapped) {
      const fd = init.fd;
      const heap = this.#heap;
      mappingInternals.copyAs(init.mapping, (length) => {
        const copy = backend.heap.mapDescriptor(fd, 0, length, { ...HEAP_REGION, readable: true, fill: true });
        heap.on = true;
        return copy;
      });
    }
  }

  #checkOpen(): void {
    if (this.#state !== "open") throw closedError();
  }

  static {
    outputInternals = { slabCount: (o) => mappingInternals.slabCount(o.#mapping) };
  }

  /** Size of the mapped region. */
  get size(): number {
    return this.#size;
  }

  /** Final length of the file: the region plus what was appended. */
  get length(): number {
    return this.#size + this.#tail;
  }

  /** True once committed or aborted. */
  get closed(): boolean {
    return this.#state !== "open";
  }

  /** A zero-copy Buffer over the whole region (see {@link OutputFile.view} past 4 GiB). */
  get buffer(): Buffer {
    this.#checkOpen();
    return this.#mapping.buffer;
  }

  /** A zero-copy slab on the region, to fill in place. */
  view(offset: number, length?: number): Buffer {
    this.#checkOpen();
    return this.#mapping.view(offset, spanLength(offset, length, this.#size));
  }

  /** Copies `data` (bytes, or a string as UTF-8) into the region at `offset`. Returns the bytes written. */
  write(offset: number, data: Uint8Array | string): number {
    this.#checkOpen();
    validateInteger(offset, "offset", 0, this.#size);
    const bytes = toBytes(data, "data");
    if (bytes.length > this.#size - offset) {
      throw rangeError(`Writing ${bytes.length} bytes at ${offset} passes the end of the region (${this.#size} bytes); use append() or grow()`);
    }
    // Straight into the mapping's slab: no view per call.
    mappingInternals.write(this.#mapping, offset, bytes);
    return bytes.length;
  }

  /**
   * Writes `data` past the region (plain file I/O, no mapping) and returns
   * the file offset where it landed.
   */
  append(data: Uint8Array | string): number {
    this.#checkOpen();
    const bytes = toBytes(data, "data");
    const at = this.#size + this.#tail;
    if (bytes.length > 0) writeFully(this.#fd, bytes, at);
    this.#tail += bytes.length;
    return at;
  }

  /**
   * Extends the region to `newSize` bytes, keeping what was written. The
   * appended tail becomes part of the region at the same offsets, so
   * `newSize` must be at least {@link OutputFile.length}. Buffers from
   * `buffer`/`view()` made before are detached: take new ones.
   * @throws ENOSPC when the disk cannot hold it (nothing changes then).
   */
  grow(newSize: number): void {
    this.#checkOpen();
    validateInteger(newSize, "newSize", 0, MAX_SAFE);
    if (newSize < this.#size + this.#tail) {
      throw outOfRange("newSize", `>= ${this.#size + this.#tail} (the region and the appended tail)`, newSize);
    }
    const length = this.#size + this.#tail; // the file's length now
    let reserved = false;
    try {
      // A heap region's file is grown first, with its blocks reserved, as
      // the mapped region's resize() does itself; the tail, in the file, is
      // then read into the region by resize(). A region too large for one
      // Buffer is refused before the file changes.
      if (this.#heap.on && newSize > bufferConstants.MAX_LENGTH) {
        throw rangeError(`Without a mapping, the region is one Buffer: at most ${bufferConstants.MAX_LENGTH} bytes`);
      }
      if (this.#heap.on && this.#regular) {
        reserveBlocks(this.#fd, newSize);
        reserved = true;
      }
      this.#mapping.resize(newSize);
    } catch (e) {
      if (reserved) ftruncateSync(this.#fd, length); // nothing changes
      throw namePaths(e, this.writePath, this.atomic ? this.path : undefined);
    }
    this.#size = newSize;
    this.#tail = 0;
  }

  /**
   * A handle on `[offset, offset + length)` of the region that a worker
   * thread turns into its own writable mapping with {@link openRegion}.
   * Regions handed out may not overlap.
   */
  region(offset: number, length: number): OutputRegion {
    this.#checkOpen();
    validateInteger(offset, "offset", 0, this.#size);
    validateInteger(length, "length", 0, this.#size - offset); // required: no default to the end
    for (const r of this.#regions) {
      if (offset < r.offset + r.length && r.offset < offset + length) {
        throw invalidArgValue("offset", offset, `overlaps the region [${r.offset}, ${r.offset + r.length}) already handed out`);
      }
    }
    if (length > 0) this.#regions.push({ offset, length });
    return Object.freeze({ kind: "memmap.OutputRegion", path: this.writePath, offset, length, mapped: this.mapped });
  }

  // What commit writes back: the region, except the ranges handed to
  // workers, which wrote them into the file themselves (a heap region must
  // not write its own zeros over them).
  #writeBackRuns(): Array<[number, number]> {
    const runs: Array<[number, number]> = [];
    const regions = [...this.#regions].sort((a, b) => a.offset - b.offset);
    let at = 0;
    for (const r of regions) {
      if (r.offset > at) runs.push([at, r.offset]);
      at = Math.max(at, r.offset + r.length);
    }
    if (at < this.#size) runs.push([at, this.#size]);
    return runs;
  }

  #beginCommit(): void {
    this.#checkOpen();
    this.#state = "committing";
  }

  #endAs(state: "committed" | "aborted"): void {
    this.#state = state;
    forgetLeftover(this, this.#leftover);
  }

  /**
   * Flushes the region, unmaps it, truncates the file to {@link OutputFile.length},
   * fsyncs it and renames it over `path` (then fsyncs the directory). Only
   * now does `path` change. On failure the output is aborted: `path` keeps
   * its old content and the temporary file is removed.
   */
  commitSync(): void {
    this.#beginCommit();
    try {
      for (const [from, to] of this.#writeBackRuns()) this.#mapping.flushSync({ offset: from, length: to - from });
      this.#mapping.unmap();
      if (this.#regular) truncateDurablySync(this.#fd, this.length);
      closeSync(this.#fd);
      this.#fd = -1;
      this.#leftover.fd = -1;
      if (this.atomic) renameIntoPlaceSync(this.writePath, this.#target);
    } catch (e) {
      this.#discard();
      throw e;
    }
    this.#endAs("committed");
  }

  /** {@link OutputFile.commitSync} with the slow steps (msync, write, fsync, rename) off the main thread. */
  async commit(): Promise<void> {
    this.#beginCommit();
    try {
      for (const [from, to] of this.#writeBackRuns()) await this.#mapping.flush({ offset: from, length: to - from });
      this.#mapping.unmap();
      if (this.#regular) await truncateDurably(this.#fd, this.length);
      await close(this.#fd);
      this.#fd = -1;
      this.#leftover.fd = -1;
      if (this.atomic) await renameIntoPlace(this.writePath, this.#target);
    } catch (e) {
      this.#discard();
      throw e;
    }
    this.#endAs("committed");
  }

  // Undoes what the output did: unmap, close, remove the file it created.
  // An existing file written in place keeps what was written, as it keeps a
  // mapped region's pages: a heap region writes back the same runs as
  // commit, as far as it can (the output is being given up; a commit that
  // failed throws its own error).
  #discard(): void {
    if (this.#heap.on && this.#regular && !this.atomic && !this.#created) {
      try {
        for (const [from, to] of this.#writeBackRuns()) this.#mapping.flushSync({ offset: from, length: to - from });
      } catch {
        // Given up all the same.
      }
    }
    try {
      this.#mapping.unmap(); // a heap region writes nothing back at unmap
    } catch {
      // Unmapped all the same (unmap() reports, e.g. ERR_MEMMAP_TRUNCATED);
      // the output is being thrown away.
    }
    if (this.#fd >= 0) {
      closeSync(this.#fd);
      this.#fd = -1;
    }
    if (this.atomic || this.#created) {
      try {
        unlinkSync(this.writePath);
      } catch {
        // Already gone.
      }
    }
    this.#endAs("aborted");
  }

  /**
   * Gives up: unmaps, removes the temporary file, leaves `path` untouched.
   * With `atomic: false`, a file this output created is removed and an
   * existing one keeps what was written. Calling it again, or after
   * commit, does nothing.
   */
  abort(): void {
    if (this.#state !== "open") return;
    this.#discard();
  }

  /** Aborts an output that was not committed, for `using out = createOutput(...)`. */
  [Symbol.dispose](): void {
    this.abort();
  }
}

/**
 * Creates an output file of `size` mapped bytes (more can be appended).
 * A disk without room is ENOSPC here, with no file left behind.
 *
 * @example
 * using out = createOutput("a.out", { size: layout.size });
 * out.write(0, header);
 * out.view(textOffset, text.length).set(text);
 * const symtabAt = out.append(symtab);
 * await out.commit();
 */
export function createOutput(path: string | URL, options: OutputOptions): OutputFile {
  const target = toPath(path);
  const o = optionsSnapshot(options, ["size", "mode", "atomic", "mapped"]);
  if (o["size"] === undefined) throw invalidArgType("options.size", "of type number", undefined);
  const size = validateInteger(o["size"], "options.size");
  const mode = o["mode"] === undefined ? 0o666 : validateInteger(o["mode"], "options.mode", 0, 0o7777);
  let atomic = optionalBoolean(o, "atomic", true);
  // The portable backend's "mappings" are heap Buffers already: the heap
  // path serves it directly, with the same bytes.
  let tryMap = optionalBoolean(o, "mapped", true) && backend.name === "native";

  // A symbolic link stays one: the file at its end is written (linkTarget).
  const dest = linkTarget(target);
  // A destination that is a device (such as /dev/null) is written in place
  // and never renamed over.
  const existing = statOrNull(dest);
  if (existing !== null && (existing.isFIFO() || existing.isSocket())) throw notSeekable(target);
  const regular = existing === null || existing.isFile();
  if (!regular) {
    atomic = false;
    tryMap = false;
  }
  const writePath = atomic ? tempPathFor(dest) : dest;
  let created = false;
  let fd: number;
  if (atomic) {
    try {
      fd = openSync(writePath, "wx+", mode);
    } catch (e) {
      throw ofDestination(e, target);
    }
    created = true;
  } else {
    try {
      fd = openSync(writePath, "wx+", mode);
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      fd = openInPlace(writePath, regular);
    }
  }

  let mapping: Mapping | null = null;
  let mapped = false;
  try {
    if (tryMap) {
      try {
        mapping = map(fd, { access: "write", size, length: size });
        mapped = true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // File systems without mmap say ENODEV (or EACCES/EINVAL); the heap
        // fallback serves them. Anything else (ENOSPC above all) is an error.
        if (code !== "ENODEV" && code !== "EINVAL" && code !== "EACCES" && code !== "ENOTSUP") throw e;
      }
    }
    if (mapping === null) {
      // The memory first: a refusal (too large, no memory) leaves the file
      // as it was. A file created here holds nothing yet; one written in
      // place shows its bytes, as a mapping of it would. A device is only
      // written.
      mapping = heapRegion(fd, 0, size, { ...HEAP_REGION, readable: regular, fill: !created && regular });
      if (regular) reserveBlocks(fd, size);
    }
  } catch (e) {
    closeSync(fd);
    if (created) {
      try {
        unlinkSync(writePath);
      } catch {
        // Already gone.
      }
    }
    throw namePaths(e, writePath, atomic ? target : undefined);
  }
  return new OutputFile({ path: target, target: dest, writePath, atomic, fd, mapping, mapped, size, created, regular });
}
