// OutputFile: the Go linker's mmap'd output writer (cmd/link OutBuf), made
// atomic. Once layout has fixed sizes and offsets, the caller fills a mapped
// region of the output in place (or from several worker threads through
// regions); content of unknown size is appended past it with plain file I/O;
// commit() flushes, truncates to the exact length, fsyncs and renames over
// the destination. Where the file cannot be mapped, the region is the
// backend's heap mapping of the file (backend.heap), written back at commit, as
// the linker's outbuf_nommap.go is a branch of the same OutBuf: one Mapping
// either way, and no second no-mmap implementation here.
import {
  closeSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, openSync, readlinkSync, realpathSync, renameSync, statSync, unlinkSync,
  type Stats,
} from "node:fs";
import * as fsp from "node:fs";
import { promisify } from "node:util";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { randomBytes } from "node:crypto";
import { constants as bufferConstants } from "node:buffer";
import { fileURLToPath } from "node:url";
import { map } from "./map.js";
import { Mapping, mappingInternals } from "./mapping.js";
import { writeFully } from "./io.js";
import { backend } from "./select.js";
import type { HeapFileOptions } from "./backend.js";
import { backendCall, closedError, invalidArgType, invalidArgValue, memmapError, outOfRange, rangeError, systemError, systemErrorCode } from "./errors.js";
import { optionalBoolean, optionsSnapshot, spanLength, validateInteger, MAX_SAFE } from "./validate.js";

const fsync = promisify(fsp.fsync);
const ftruncate = promisify(fsp.ftruncate);
const rename = promisify(fsp.rename);
const close = promisify(fsp.close);
const openAsync = promisify(fsp.open);

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

/**
 * A structured-cloneable handle on part of an output's mapped region, for
 * {@link openRegion} in a worker thread. Made by {@link OutputFile.region}.
 */
export interface OutputRegion {
  readonly kind: "memmap.OutputRegion";
  /** The file being written (the temporary file when atomic). */
  readonly path: string;
  /** Offset of the region in the output file. */
  readonly offset: number;
  readonly length: number;
  /** Whether the output is mapped; if not, the region is a heap buffer written back on close(). */
  readonly mapped: boolean;
}

/** Stale temporary files are named `.<name>.memmap-<pid>-<random>.tmp`. */
export const TEMP_FILE_PATTERN = /^\..+\.memmap-\d+-[0-9a-f]+\.tmp$/;

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.memmap-${process.pid}-${randomBytes(6).toString("hex")}.tmp`);
}

function toPath(path: unknown): string {
  if (path instanceof URL) {
    if (path.protocol !== "file:") throw invalidArgValue("path", path.href, "must be a URL with the file: scheme");
    return fileURLToPath(path);
  }
  if (typeof path !== "string") throw invalidArgType("path", "of type string or an instance of URL", path);
  if (path.length === 0 || path.includes("\u0000")) throw invalidArgValue("path", path, "must be a non-empty path without null bytes");
  return resolve(path);
}

function toBytes(data: unknown, name: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw invalidArgType(name, "of type string or an instance of Buffer, TypedArray or DataView", data);
}

// The file `path` names: the end of its chain of symbolic links, which is
// what an atomic output must rename over (as npm's write-file-atomic does),
// for a rename over the link would replace the link with a regular file and
// leave its target as it was. A dangling link names the file to make. A
// relative target is resolved against the link's directory as the kernel
// does, through that directory's real path (a ".." in it goes up from where
// the directory really is). More than 40 links (Linux's MAXSYMLINKS) is
// ELOOP, as open() says. A path that cannot be looked at is returned as it
// is: opening it reports why.
const MAX_LINK_HOPS = 40;
function linkTarget(path: string): string {
  let at = path;
  for (let hops = 0; ; hops++) {
    let link: boolean;
    try {
      link = lstatSync(at).isSymbolicLink();
    } catch {
      link = false;
    }
    if (!link) return hops === 0 ? at : realDirectory(at);
    if (hops === MAX_LINK_HOPS) throw systemErrorCode("ELOOP", "open", path);
    const target = readlinkSync(at);
    at = isAbsolute(target) ? target : realpathSync.native(dirname(at)) + sep + target;
  }
}

// `path` with its directory's real path, so that a ".." a link's target
// left in it is taken from where the directory really is.
function realDirectory(path: string): string {
  try {
    return join(realpathSync.native(dirname(path)), basename(path));
  } catch {
    return path; // no such directory: opening the file says so
  }
}

// The temporary file is ours, not the user's: a failure to make it (its
// folder missing or read-only, say) names the destination they gave.
function ofDestination(e: unknown, dest: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err === null || typeof err !== "object" || typeof err.errno !== "number" || typeof err.syscall !== "string") return e;
  return systemError(-err.errno, err.syscall, dest);
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

// Grows the file to `size` bytes and reserves the blocks (fallocate), as the
// mapped path does, so that a full disk is ENOSPC now and not at commit.
function reserve(fd: number, size: number): void {
  backendCall(() => backend.reserveFile(fd, size));
}

// An output is written at positions (the region, then the tail): a pipe or
// a socket cannot be, and waiting in open() for a FIFO's reader would freeze
// the event loop. Refused before anything is opened.
function notSeekable(path: string): Error {
  return invalidArgValue("path", path, "is a FIFO or a socket: an output is written at positions (a regular file or a device)");
}

// A system error from a step on the descriptor names the file, as fs does:
// `path` the file written (the temporary file when atomic), `dest` the
// destination.
function namePaths(e: unknown, path: string, dest: string | undefined): unknown {
  const err = e as NodeJS.ErrnoException & { dest?: string };
  if (err !== null && typeof err === "object" && err.code !== undefined && err.syscall !== undefined) {
    err.path ??= path;
    if (dest !== undefined) err.dest ??= dest;
  }
  return e;
}

// Opens an existing destination for writing in place. O_NONBLOCK, so that a
// FIFO put there since it was looked at cannot block open() (it is refused
// just after, by its type); cleared for devices by opening them again.
function openInPlace(path: string, regular: boolean): number {
  const C = fsp.constants;
  const flags = (regular ? C.O_RDWR : C.O_WRONLY) | C.O_NOCTTY;
  const probe = openSync(path, flags | C.O_NONBLOCK);
  let st: Stats;
  try {
    st = fstatSync(probe);
  } catch (e) {
    closeSync(probe);
    throw e;
  }
  if (st.isFile() && regular) return probe; // O_NONBLOCK means nothing to a regular file
  closeSync(probe);
  if (st.isFIFO() || st.isSocket()) throw notSeekable(path);
  if (!st.isFile() && !regular) return openSync(path, flags); // a device: opening it does not wait
  throw memmapError("ERR_MEMMAP_CHANGED", `createOutput: ${path} changed type while it was being opened`, { path });
}

function fsyncDirectory(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself stands.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

// What an output dropped without commit() or abort() must still undo: its
// descriptor, and the temporary file (or the file it created in place).
// The garbage collector's finalizer does it, and so does a normal exit for
// every output still open then.
// On Windows the mapping too: a file with a view cannot be deleted there, so
// a dropped output's mapping is unmapped with it (views of it detach) rather
// than whenever the collector gets to it.
interface Leftover {
  fd: number;
  path: string;
  remove: boolean;
  mapping?: Mapping | undefined;
}
const leftovers = new Set<Leftover>();
function undoLeftover(l: Leftover): void {
  leftovers.delete(l);
  if (l.mapping) {
    try {
      l.mapping.unmap();
    } catch {
      // Unmapped all the same; the output is being thrown away.
    }
    l.mapping = undefined;
  }
  if (l.fd >= 0) {
    try {
      closeSync(l.fd);
    } catch {
      // Already closed.
    }
    l.fd = -1;
  }
  if (l.remove) {
    l.remove = false;
    try {
      unlinkSync(l.path);
    } catch (e) {
      // Already gone; or, on Slabs, held open by someone else (a mapped
      // file cannot be deleted there): a temporary file of ours is tried
      // again later. Never a path the user names, which could be a new
      // file by then.
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" && process.platform === "win32" && TEMP_FILE_PATTERN.test(basename(l.path))) {
        unremoved.add(l.path);
      }
    }
  }
}
// Temporary files Windows refused to delete while their views lived: tried
// again whenever an output is made, and at exit.
const unremoved = new Set<string>();
function retryUnremoved(): void {
  for (const path of unremoved) {
    try {
      unlinkSync(path);
      unremoved.delete(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") unremoved.delete(path);
    }
  }
}
const dropped = new FinalizationRegistry<Leftover>(undoLeftover);
let exitHooked = false;
function track(output: object, l: Leftover): void {
  if (unremoved.size > 0) retryUnremoved();
  leftovers.add(l);
  dropped.register(output, l, output);
  if (!exitHooked) {
    exitHooked = true;
    process.on("exit", () => {
      for (const left of [...leftovers]) undoLeftover(left);
      retryUnremoved();
    });
  }
}

/**
 * An output file being written. Made by {@link createOutput}.
 *
 * The file is `[ mapped region of \`size\` bytes | appended tail ]`.
 */
/** For tests: not exported from the package. Set by OutputFile's static block. */
export let outputInternals: {
  /** Windows the output's mapping made (lib/slabs.ts). */
  slabCount(o: OutputFile): number;
};

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
  // (backend.heap.mapDescriptor) where it cannot be mapped.
  #mapping: Mapping;
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
    this.#size = init.size;
    this.#created = init.created;
    this.#regular = init.regular;
    this.#leftover = { fd: init.fd, path: init.writePath, remove: init.atomic || init.created };
    if (process.platform === "win32") this.#leftover.mapping = init.mapping;
    track(this, this.#leftover);
  }

  #open(): void {
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
    this.#open();
    return this.#mapping.buffer;
  }

  /** A zero-copy slab on the region, to fill in place. */
  view(offset: number, length?: number): Buffer {
    this.#open();
    return this.#mapping.view(offset, spanLength(offset, length, this.#size));
  }

  /** Copies `data` (bytes, or a string as UTF-8) into the region at `offset`. Returns the bytes written. */
  write(offset: number, data: Uint8Array | string): number {
    this.#open();
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
    this.#open();
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
    this.#open();
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
      if (!this.mapped && newSize > bufferConstants.MAX_LENGTH) {
        throw rangeError(`Without a mapping, the region is one Buffer: at most ${bufferConstants.MAX_LENGTH} bytes`);
      }
      if (!this.mapped && this.#regular) {
        reserve(this.#fd, newSize);
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
    this.#open();
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
  #runs(): Array<[number, number]> {
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
    this.#open();
    this.#state = "committing";
  }

  #finish(state: "committed" | "aborted"): void {
    this.#state = state;
    this.#leftover.fd = -1; // closed by commit or by #cleanup
    this.#leftover.remove = false;
    this.#leftover.mapping = undefined;
    leftovers.delete(this.#leftover);
    dropped.unregister(this);
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
      for (const [from, to] of this.#runs()) this.#mapping.flushSync({ offset: from, length: to - from });
      this.#mapping.unmap();
      if (this.#regular) {
        ftruncateSync(this.#fd, this.length);
        fsyncSync(this.#fd);
      }
      closeSync(this.#fd);
      this.#fd = -1;
      this.#leftover.fd = -1;
      if (this.atomic) {
        renameSync(this.writePath, this.#target);
        fsyncDirectory(dirname(this.#target));
      }
    } catch (e) {
      this.#cleanup();
      throw e;
    }
    this.#finish("committed");
  }

  /** {@link OutputFile.commitSync} with the slow steps (msync, write, fsync, rename) off the main thread. */
  async commit(): Promise<void> {
    this.#beginCommit();
    try {
      for (const [from, to] of this.#runs()) await this.#mapping.flush({ offset: from, length: to - from });
      this.#mapping.unmap();
      if (this.#regular) {
        await ftruncate(this.#fd, this.length);
        await fsync(this.#fd);
      }
      await close(this.#fd);
      this.#fd = -1;
      this.#leftover.fd = -1;
      if (this.atomic) {
        await rename(this.writePath, this.#target);
        const dir = await openAsync(dirname(this.#target), "r").catch(() => -1);
        if (dir >= 0) {
          await fsync(dir).catch(() => undefined);
          await close(dir);
        }
      }
    } catch (e) {
      this.#cleanup();
      throw e;
    }
    this.#finish("committed");
  }

  // Undoes what the output did: unmap, close, remove the file it created.
  #cleanup(): void {
    try {
      this.#mapping.unmap(); // a heap region writes nothing back: only commit does
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
    this.#finish("aborted");
  }

  /**
   * Gives up: unmaps, removes the temporary file, leaves `path` untouched.
   * With `atomic: false`, a file this output created is removed and an
   * existing one keeps what was written. Calling it again, or after
   * commit, does nothing.
   */
  abort(): void {
    if (this.#state !== "open") return;
    this.#cleanup();
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
      mapping = heapRegion(fd, 0, size, { readable: regular, fill: !created && regular, own: false, writeBack: false });
      if (regular) reserve(fd, size);
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

// The fallback region: the backend's heap mapping of the file.
function heapRegion(fd: number, offset: number, length: number, options: HeapFileOptions): Mapping {
  return new Mapping(backendCall(() => backend.heap.mapDescriptor(fd, offset, length, options)), "write", offset);
}

/**
 * In a worker thread (or anywhere): opens a region handed out by
 * {@link OutputFile.region} for writing. Its writes land in the output's
 * file; call close() before the output is committed.
 */
export function openRegion(handle: OutputRegion): RegionWriter {
  const h = optionsSnapshot(handle, ["kind", "path", "offset", "length", "mapped"], "handle");
  if (h["kind"] !== "memmap.OutputRegion" || typeof h["path"] !== "string") {
    throw invalidArgType("handle", "an OutputRegion from OutputFile.region()", handle);
  }
  const offset = validateInteger(h["offset"], "handle.offset");
  const length = validateInteger(h["length"], "handle.length");
  return new RegionWriter(h["path"], offset, length, h["mapped"] === true);
}

const EMPTY = { length: 0, shared: false, exec: false, populate: false, hugePages: false, lock: false };

/** The writable side of an {@link OutputRegion}. Coordinates are relative to the region. */
export class RegionWriter implements Disposable {
  #mapping: Mapping;
  /** Offset of the region in the output file. */
  readonly offset: number;
  readonly length: number;

  /** @internal Use openRegion(). */
  constructor(path: string, offset: number, length: number, mapped: boolean) {
    this.offset = offset;
    this.length = length;
    if (length === 0) {
      // Nothing to write: no file is opened (it may be gone already).
      this.#mapping = new Mapping(backend.heap.mapAnonymous(EMPTY), "write", offset);
    } else if (mapped) {
      this.#mapping = map(path, { access: "write", offset, length });
    } else {
      // The output's heap fallback: this region's own heap mapping of the
      // file, written back by close() (unmap), which also closes the file.
      // Only a regular file is read (a device may block, or be write-only).
      const fd = openSync(path, "r+");
      try {
        const regular = fstatSync(fd).isFile();
        this.#mapping = heapRegion(fd, offset, length, { readable: regular, fill: regular, own: true, writeBack: true });
      } catch (e) {
        closeSync(fd);
        throw e;
      }
    }
  }

  /** A zero-copy Buffer over the whole region. */
  get buffer(): Buffer {
    return this.#mapping.buffer; // ERR_MEMMAP_CLOSED once closed
  }

  /** A slab on the region. */
  view(offset: number, length?: number): Buffer {
    if (this.#mapping.closed) throw closedError();
    return this.#mapping.view(offset, spanLength(offset, length, this.length));
  }

  /** Copies `data` into the region at `offset` (region coordinates). */
  write(offset: number, data: Uint8Array | string): number {
    const bytes = toBytes(data, "data");
    validateInteger(offset, "offset", 0, this.length);
    if (bytes.length > this.length - offset) throw rangeError(`Writing ${bytes.length} bytes at ${offset} passes the end of the region (${this.length} bytes)`);
    if (this.#mapping.closed) throw closedError();
    mappingInternals.write(this.#mapping, offset, bytes);
    return bytes.length;
  }

  /** Finishes the region: unmaps it (a heap region is written into the file first). Idempotent. */
  close(): void {
    this.#mapping.unmap();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
