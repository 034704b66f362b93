// Making mappings: map() and mapTyped() for files, mapAnonymous() for
// memory, and adviseFile() for a file's page cache without a mapping. Each
// checks its arguments, builds the backend's request and hands the result to
// a Mapping (lib/mapping.ts).
import { fileURLToPath } from "node:url";
import type { FileHandle } from "node:fs/promises";
import type { Access, FileAdvice } from "./backend.js";
import { backend } from "./select.js";
import { Mapping, mappingInternals, type Fault } from "./mapping.js";
import { elementSize, elementsToBytes, type TypedArrayConstructor, type TypedArrayOf } from "./typed.js";
import { invalidArgType, invalidArgValue, backendCall } from "./errors.js";
import { optionalBoolean, optionalInteger, optionsObject, optionsSnapshot, validateInteger, validateOneOf, type Range } from "./validate.js";

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

export interface AnonymousOptions {
  /** MAP_SHARED instead of MAP_PRIVATE (shared with child processes forked by native code). Default false. */
  shared?: boolean;
  populate?: boolean;
  hugePages?: boolean;
  lock?: boolean;
  exec?: boolean;
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
