// The worker's side of an output (lib/output.ts): OutputFile.region() hands
// out an OutputRegion, and openRegion() turns it into a RegionWriter, a
// writable mapping of that part of the file (or, where the output is not
// mapped, a heap mapping of it written back by close()).
import { closeSync, fstatSync, openSync } from "node:fs";
import type { HeapFileOptions } from "./backend.js";
import { backend } from "./select.js";
import { map } from "./map.js";
import { Mapping, mappingInternals } from "./mapping.js";
import { backendCall, closedError, invalidArgType, rangeError } from "./errors.js";
import { optionsSnapshot, spanLength, toBytes, validateInteger } from "./validate.js";

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

/** The fallback region: the backend's heap mapping of the file (backend.heap). */
export function heapRegion(fd: number, offset: number, length: number, options: HeapFileOptions): Mapping {
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
