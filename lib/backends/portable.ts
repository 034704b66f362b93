// The portable backend: the same contract in plain TypeScript, for where the
// addon cannot load (no compiler, an unusual platform), or a runtime refuses
// external buffers. A mapping is a heap Buffer filled with positioned reads;
// flushing writes it back with positioned writes. Like the Go linker's
// outbuf_nommap.go, it is slower and holds the whole range in memory, but it
// keeps every promise of the API: views are detached on unmap(), closed
// mappings throw ERR_MEMMAP_CLOSED, errors are Node's fs errors, and no data
// written to a "write" mapping is lost (unmap(), and garbage collection of a
// dropped mapping, write it back).
import {
  closeSync, fstatSync, ftruncateSync, openSync,
} from "node:fs";
import * as fs from "node:fs";
import { constants as bufferConstants } from "node:buffer";
import {
  ADVICE, FILE_ADVICE, type Backend, type BackendMapping, type HeapFileOptions, type HeapMappings, type MapAnonymousRequest, type MapFileRequest, type WaitResult,
} from "../backend.js";
import { memmapError, notSupported, rangeError, systemErrorCode } from "../errors.js";
import type { Slab } from "../slabs.js";
import { detachHeap } from "../detach.js";
import { readFully, writeFully, writeFullyAsync } from "../io.js";


/** What the portable backend says where a platform feature cannot be had. */
function unsupported(syscall: string): Error {
  return notSupported(syscall, `not supported by the portable backend, ${syscall}`);
}

const PAGE = 4096;

function allocate(length: number): Buffer {
  if (length > bufferConstants.MAX_LENGTH) {
    throw rangeError(`The portable backend holds a mapping in one Buffer: at most ${bufferConstants.MAX_LENGTH} bytes (buffer.constants.MAX_LENGTH)`);
  }
  let ab: ArrayBuffer;
  try {
    ab = new ArrayBuffer(length);
  } catch {
    throw systemErrorCode("ENOMEM", "mmap");
  }
  // Not marked untransferable: in Node 20 a transfer is the only way
  // JavaScript can detach an ArrayBuffer,
  // and unmap() must detach. A user who transfers a view's ArrayBuffer moves
  // the memory away; a write mapping then reports ERR_MEMMAP_TRANSFERRED at
  // flush or unmap instead of losing the writes silently.
  return Buffer.from(ab);
}

// The file behind a mapping: what a dropped "write" mapping must still
// write back, and the descriptor to close.
interface FileState {
  fd: number;
  own: boolean;
  /** Whether unmap() (and the finalizer of a dropped mapping) write the range back; else only flush() does. */
  writeBack: boolean;
  /** Whether the file can be read (not a device opened write-only): resize() reads what lies past the old end. */
  readable: boolean;
  buf: Buffer | null;
  position: number;
  /** Which file `fd` named when the mapping took it (st_dev, st_ino). */
  dev: number;
  ino: number;
}

// Whether the descriptor still names the mapping's file. JavaScript sees the
// number (mapping.fd) and can close it; the number may then be reused for
// another file or a socket, which must never be written or closed.
function intact(p: FileState): boolean {
  try {
    const st = fstatSync(p.fd);
    return st.dev === p.dev && st.ino === p.ino;
  } catch {
    return false;
  }
}

function checkIntact(p: FileState): void {
  if (!intact(p)) throw systemErrorCode("EBADF", "fstat");
}

function closeIfIntact(p: FileState): void {
  if (intact(p)) closeSync(p.fd);
}

const finalizer = new FinalizationRegistry<FileState>((p) => {
  try {
    if (p.buf && p.writeBack && intact(p)) writeFully(p.fd, p.buf, p.position);
  } catch {
    // Nowhere to report it from a finalizer; unmap() reports it.
  } finally {
    if (p.own) closeIfIntact(p);
  }
});

class PortableMapping implements BackendMapping {
  #buf: Buffer;
  #state: FileState | null; // file mappings: the descriptor and what to write back
  #path: string | null;
  #access: MapFileRequest["access"] | "anonymous";
  #position: number;
  #inflight = 0;
  #closed = false;
  #expected: number; // the length the buffer must have unless it was transferred away
  #closeWhenIdle: (() => void) | null = null;

  constructor(buf: Buffer, access: MapFileRequest["access"] | "anonymous", position: number, state: FileState | null, path: string | null) {
    this.#buf = buf;
    this.#access = access;
    this.#position = position;
    this.#state = state;
    this.#path = path;
    this.#expected = buf.length;
    if (state) finalizer.register(this, state, this);
  }

  get byteLength(): number {
    return this.#expected;
  }

  slab(): Slab {
    // The mapping is one heap ArrayBuffer (allocate() starts it at byte 0).
    this.#checkNotTransferred();
    return { buffer: this.#buf.buffer as ArrayBuffer, start: 0 };
  }

  #writeBack(offset: number, length: number): void {
    if (this.#access !== "write" || !this.#state || length === 0) return;
    this.#checkNotTransferred();
    checkIntact(this.#state);
    writeFully(this.#state.fd, this.#buf.subarray(offset, offset + length), this.#position + offset);
  }

  unmap(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    finalizer.unregister(this);
    let error: unknown;
    try {
      if (this.#state?.writeBack) this.#writeBack(0, this.#expected);
    } catch (e) {
      error = e;
    }
    const state = this.#state;
    if (state?.own) {
      if (this.#inflight > 0) this.#closeWhenIdle = () => closeIfIntact(state);
      else closeIfIntact(state);
    }
    this.#state = null;
    detachHeap(this.#buf);
    if (error !== undefined) throw error;
    return true;
  }

  // The memory is one heap ArrayBuffer, which the views keep alive. A
  // "write" mapping's bytes must be written back when they are done with,
  // and nothing can tell when a heap ArrayBuffer dies while still having its
  // bytes: refused, so that no write is silently lost (flush() and unmap()
  // do it). Other mappings need nothing more: their descriptor goes now.
  release(): boolean {
    if (this.#closed) return false;
    if (this.#access === "write" && this.#state) throw unsupported("release of a \"write\" mapping (flush() and unmap() instead)");
    this.#closed = true;
    finalizer.unregister(this);
    if (this.#state?.own) closeIfIntact(this.#state);
    this.#state = null;
    return true;
  }

  flushSync(offset: number, length: number): void {
    this.#writeBack(offset, length);
  }

  // Node's fs has no asynchronous write-back that returns at once: the same.
  scheduleFlush(offset: number, length: number): void {
    this.#writeBack(offset, length);
  }

  #checkNotTransferred(): void {
    if (this.#buf.buffer.byteLength === 0 && this.#buf.length === 0 && this.#expected > 0) {
      throw memmapError(
        "ERR_MEMMAP_TRANSFERRED",
        "The mapping's memory was transferred to another thread (postMessage/structuredClone transfer list); its contents cannot be written back",
      );
    }
  }

  async flush(offset: number, length: number): Promise<void> {
    // Counted as running even when there is nothing to write, so that
    // resize() answers ERR_MEMMAP_BUSY exactly as the native backend does.
    this.#inflight++;
    try {
      if (this.#access !== "write" || !this.#state || length === 0) {
        await Promise.resolve();
        return;
      }
      this.#checkNotTransferred();
      checkIntact(this.#state);
      // A copy: unmap() may detach the mapping's memory while the write runs
      // on the thread pool (unmap() then leaves the descriptor open for it).
      const copy = Buffer.from(this.#buf.subarray(offset, offset + length));
      const state = this.#state;
      await writeFullyAsync(state.fd, copy, this.#position + offset);
    } finally {
      if (--this.#inflight === 0 && this.#closeWhenIdle) {
        this.#closeWhenIdle();
        this.#closeWhenIdle = null;
      }
    }
  }

  async prefetch(): Promise<void> {
    // The bytes are already in memory.
  }

  advise(): void {
    // Advice concerns the kernel's handling of mapped pages; there are none.
  }

  lock(_offset: number, _length: number, lock: boolean): void {
    if (lock) throw unsupported("mlock");
  }

  get faults(): number {
    return 0; // the bytes are in memory: nothing can fault
  }

  onFault(): void {
    // Nothing can fault.
  }

  get fd(): number {
    return this.#state && intact(this.#state) ? this.#state.fd : -1; // -1 once someone closed it
  }

  share(): number {
    throw unsupported("memfd_create");
  }

  wait(): WaitResult {
    throw unsupported("futex");
  }

  async waitAsync(): Promise<WaitResult> {
    throw unsupported("futex");
  }

  notify(): number {
    throw unsupported("futex");
  }

  residency(offset: number, length: number): Uint8Array {
    // Honest: the bytes are in this process's memory, all of them.
    const first = Math.floor(offset / PAGE);
    const last = length === 0 ? first : Math.ceil((offset + length) / PAGE);
    return new Uint8Array(last - first).fill(1);
  }

  resize(newLength: number): void {
    if (this.#inflight > 0) {
      throw memmapError("ERR_MEMMAP_BUSY", "The mapping cannot be resized while a flush() is running on it; await it first");
    }
    if (this.#access === "write") this.#checkNotTransferred();
    const next = allocate(newLength);
    this.#buf.copy(next, 0, 0, Math.min(this.#buf.length, newLength));
    if (this.#state && newLength > this.#buf.length) {
      checkIntact(this.#state);
      const end = this.#position + newLength;
      const st = fstatSync(this.#state.fd);
      const size = st.size;
      if (end > size && st.isFile()) { // a device (createOutput's /dev/null) has no size to grow
        if (this.#access !== "write") throw rangeError(`The new length passes the end of the file (${size} bytes)`);
        ftruncateSync(this.#state.fd, end);
      }
      // What the file holds past the old end.
      if (this.#state.readable && (st.isFile() || st.isBlockDevice())) readFully(this.#state.fd, next.subarray(this.#buf.length), this.#position + this.#buf.length);
    } else if (this.#path !== null && newLength > this.#buf.length) {
      // A read or copy mapping of a path let go of its descriptor: reopen.
      const fd = openSync(this.#path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
      try {
        const size = fstatSync(fd).size;
        if (this.#position + newLength > size) throw rangeError(`The new length passes the end of the file (${size} bytes)`);
        readFully(fd, next.subarray(this.#buf.length), this.#position + this.#buf.length);
      } finally {
        closeSync(fd);
      }
    } else if (this.#access !== "anonymous" && newLength > this.#buf.length) {
      throw unsupported("mremap");
    }
    const old = this.#buf;
    this.#buf = next;
    this.#expected = newLength;
    if (this.#state) this.#state.buf = next;
    detachHeap(old);
  }
}

function mapFile(req: MapFileRequest): BackendMapping {
  if (req.exec) throw unsupported("mmap PROT_EXEC");
  if (req.lock) throw unsupported("mlock");
  const write = req.access === "write";
  let fd = req.fd;
  let own = false;
  let created = false;
  if (req.path !== null) {
    if (req.size >= 0) {
      try {
        fd = openSync(req.path, "wx+", req.mode);
        created = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
    }
    // O_NONBLOCK: a FIFO must not freeze the event loop in open(); its
    // type is refused below (ENODEV), as the native backend does.
    if (!created) fd = openSync(req.path, (write ? fs.constants.O_RDWR : fs.constants.O_RDONLY) | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    own = true;
  }
  const undo: Array<() => void> = [];
  try {
    const st = fstatSync(fd);
    const where = req.path ?? undefined;
    if (st.isDirectory()) throw systemErrorCode("EISDIR", "mmap", where);
    if (!st.isFile() && !st.isBlockDevice()) throw systemErrorCode("ENODEV", "mmap", where);
    let size = st.size;
    if (req.size >= 0 && req.size > size) {
      const old = size;
      ftruncateSync(fd, req.size); // no way to reserve blocks from JavaScript
      undo.push(() => ftruncateSync(fd, old));
      size = req.size;
    }
    if (req.offset > size) throw rangeError(`The offset ${req.offset} is past the end of the file (${size} bytes)`);
    const length = req.length < 0 ? size - req.offset : req.length;
    if (length > size - req.offset) {
      throw rangeError(`The range [${req.offset}, ${req.offset + length}) passes the end of the file (${size} bytes)`);
    }
    const buf = allocate(length);
    readFully(fd, buf, req.offset);
    if (!write && own) {
      // Read and copy mappings need the file no longer: no descriptor is held.
      closeSync(fd);
      return new PortableMapping(buf, req.access, req.offset, null, req.path);
    }
    const state: FileState | null = write ? { fd, own, writeBack: true, readable: true, buf, position: req.offset, dev: st.dev, ino: st.ino } : null;
    return new PortableMapping(buf, req.access, req.offset, state, req.path);
  } catch (e) {
    for (const u of undo.reverse()) {
      try {
        u();
      } catch {
        // Best effort: the original error is what matters.
      }
    }
    if (own) closeSync(fd);
    if (created && req.path !== null) fs.rmSync(req.path, { force: true });
    throw e;
  }
}

function mapAnonymous(req: MapAnonymousRequest): BackendMapping {
  if (req.exec) throw unsupported("mmap PROT_EXEC");
  // Memory that other threads or processes see cannot be made from JavaScript.
  if (req.shared) throw unsupported("mmap MAP_SHARED");
  if (req.lock) throw unsupported("mlock");
  return new PortableMapping(allocate(req.length), "anonymous", 0, null, null);
}

// HeapMappings.mapDescriptor (lib/backend.ts): a "write" mapping of part of
// a descriptor that is already open.
function mapDescriptor(fd: number, offset: number, length: number, options: HeapFileOptions): BackendMapping {
  const st = fstatSync(fd);
  const buf = allocate(length);
  if (options.fill && options.readable) readFully(fd, buf, offset);
  const state: FileState = { fd, own: options.own, writeBack: options.writeBack, readable: options.readable, buf, position: offset, dev: st.dev, ino: st.ino };
  return new PortableMapping(buf, "write", offset, state, null);
}

/** The portable backend's mappings, which every backend offers as its `heap`. */
export const heapMappings: HeapMappings = Object.freeze({ mapFile, mapAnonymous, mapDescriptor });

/** The portable backend; `reason` says why it was chosen. */
export function portableBackend(reason: string): Backend {
  return {
    name: "portable",
    reason,
    pageSize: PAGE,
    allocationGranularity: PAGE,
    adviceNames: ADVICE,
    fileAdviceNames: FILE_ADVICE,
    mapFile,
    mapAnonymous,
    heap: heapMappings,
    attach() {
      throw unsupported("mmap MAP_SHARED");
    },
    shmOpen() {
      throw unsupported("shm_open");
    },
    shmUnlink() {
      throw unsupported("shm_unlink");
    },
    closeShm() {
      throw unsupported("shm_open");
    },
    // Node's fs cannot reserve blocks (no fallocate): the size only.
    reserveFile(fd, size) {
      if (size > fstatSync(fd).size) ftruncateSync(fd, size);
    },
    adviseFile(path, fd, offset, length, advice) {
      void path; void fd; void offset; void length; void advice;
      throw unsupported("posix_fadvise");
    },
  };
}

export { PortableMapping };
