// The native backend: the Node-API addon of src/.
import { isMainThread } from "node:worker_threads";
import type { Backend, BackendMapping, HeapMappings, MapAnonymousRequest, MapFileRequest, WaitResult } from "../backend.js";
import type { NativeAddon, NativeHandle } from "../load.js";
import type { Slab } from "../slabs.js";
import { memmapError } from "../errors.js";

const ACCESS = { read: 0, write: 1, copy: 2 } as const;

// Slabs are not marked untransferable (markAsUntransferable): on Node 24+
// and Deno the mark is a V8 detach key, and Node-API's detach (unmap) then
// aborts the process. Instead, the addon keeps a slab's range mapped until
// both its object is collected and its memory released, so memory moved to
// another ArrayBuffer (transfer(), a transfer list on Deno) stays readable.

class NativeMapping implements BackendMapping {
  #addon: NativeAddon;
  #h: NativeHandle;
  #length: number;
  #mapCopy: (length: number) => BackendMapping;

  // `mapCopy` maps the same range, `length` bytes of it, as a heap mapping:
  // heapCopy()'s replacement, for when the runtime refuses external buffers.
  constructor(addon: NativeAddon, h: NativeHandle, length: number, mapCopy: (length: number) => BackendMapping) {
    this.#addon = addon;
    this.#h = h;
    this.#length = length;
    this.#mapCopy = mapCopy;
  }

  get byteLength(): number {
    return this.#length;
  }

  slab(start: number, length: number, pinned = true): Slab {
    return { buffer: this.#addon.slab(this.#h, start, length, pinned), start };
  }

  heapCopy(make: (length: number) => BackendMapping = this.#mapCopy): BackendMapping {
    // No slab of this mapping ever reached JavaScript, so nothing was
    // written through it: the same range, as copies, is the same mapping.
    const copy = make(this.#length);
    this.#addon.unmap(this.#h);
    return copy;
  }

  unmap(): boolean {
    return this.#addon.unmap(this.#h);
  }

  release(): boolean {
    return this.#addon.release(this.#h);
  }

  flushSync(offset: number, length: number): void {
    this.#addon.msync(this.#h, offset, length, false);
  }

  scheduleFlush(offset: number, length: number): void {
    this.#addon.msync(this.#h, offset, length, true);
  }

  flush(offset: number, length: number): Promise<void> {
    return this.#addon.flush(this.#h, offset, length);
  }

  prefetch(offset: number, length: number): Promise<void> {
    return this.#addon.prefetch(this.#h, offset, length);
  }

  advise(offset: number, length: number, advice: string): void {
    this.#addon.advise(this.#h, offset, length, advice);
  }

  lock(offset: number, length: number, lock: boolean): void {
    this.#addon.lock(this.#h, offset, length, lock);
  }

  residency(offset: number, length: number): Uint8Array {
    return this.#addon.residency(this.#h, offset, length);
  }

  get faults(): number {
    return this.#addon.faults(this.#h);
  }

  onFault(fn: ((offset: number, length: number, pages: number) => void) | null): void {
    this.#addon.setFaultCallback(this.#h, fn);
  }

  get fd(): number {
    return this.#addon.fd(this.#h);
  }

  share(): number {
    return this.#addon.share(this.#h);
  }

  wait(byteOffset: number, expected: number, timeoutMs: number): WaitResult {
    return this.#addon.wait(this.#h, byteOffset, expected, timeoutMs);
  }

  waitAsync(byteOffset: number, expected: number, timeoutMs: number, persistent: boolean): Promise<WaitResult> {
    return this.#addon.waitAsync(this.#h, byteOffset, expected, timeoutMs, persistent);
  }

  notify(byteOffset: number, count: number): number {
    return this.#addon.notify(this.#h, byteOffset, count);
  }

  resize(newLength: number): void {
    this.#addon.resize(this.#h, newLength);
    this.#length = newLength;
  }
}

// libuv installs its own SIGBUS handler over the fault guard's when
// JavaScript adds a 'SIGBUS' listener, and puts back the default action when
// the last one goes: either way a truncated file would kill the process, or
// the faulting access would retry forever. After every such change (Node's
// own newListener/removeListener handlers run first), the guard takes the
// signal back and chains to what it found. Signals reach only the main
// thread's process object.
// Returns what a new mapping calls first: it takes the signal back if a
// listener came or went since and the later re-assertion has not run yet.
function keepTheGuard(addon: NativeAddon): () => void {
  if (!isMainThread) return () => {};
  const listening = () => process.listenerCount("SIGBUS") > 0;
  // Node's libuv installs its handler in its own 'newListener' hook, which
  // runs before this one, and restores SIG_DFL in 'removeListener'. Bun
  // changes the handler after the listener is added or removed, so the
  // guard takes the signal back again once the calling code has run on
  // (a microtask), or at the next map() if that comes first.
  let stale = false;
  const reassert = () => {
    stale = false;
    addon.guardReassert(listening());
  };
  const changed = () => {
    if (!stale) queueMicrotask(reassert);
    stale = true;
  };
  process.on("newListener", (name) => {
    if (name !== "SIGBUS") return;
    addon.guardReassert(true); // being added: libuv's handler is in place already
    changed();
  });
  process.on("removeListener", (name) => {
    if (name !== "SIGBUS") return;
    addon.guardReassert(listening());
    changed();
  });
  if (listening()) addon.guardReassert(true);
  return () => {
    if (stale) reassert();
  };
}

// `heap`: the mappings it offers for what it cannot map (the portable
// backend's, given by select.ts). Where a runtime refuses external buffers
// (napi_no_external_buffers_allowed), a mapping is replaced by its copy in
// them (heapCopy) instead of failing.
export function nativeBackend(addon: NativeAddon, reason: string, heap: HeapMappings): Backend {
  // Bun calls an external ArrayBuffer's finalizer when the object its memory
  // was moved from (ArrayBuffer.prototype.transfer) dies, not when the memory
  // goes: a range whose slab was moved is then kept quarantined for good.
  // (Measured on Bun 1.4.5; no probe can see it without a collection.)
  if (process.versions["bun"] !== undefined) addon.setStoreFollowsObject(true);
  const guardCurrent = keepTheGuard(addon);
  return {
    name: "native",
    reason,
    pageSize: addon.pageSize,
    allocationGranularity: addon.allocationGranularity,
    adviceNames: Object.freeze([...addon.adviceNames]),
    fileAdviceNames: Object.freeze([...addon.fileAdviceNames]),
    heap,
    attach(id: number): BackendMapping {
      guardCurrent();
      const [h, length] = addon.attach(id);
      return new NativeMapping(addon, h, length, () => {
        throw memmapError("ERR_MEMMAP_NO_EXTERNAL", "This runtime refuses external buffers, and shared memory cannot be copied");
      });
    },
    shmOpen: (name, create, exclusive, mode, size) => addon.shmOpen(name, create, exclusive, mode, size),
    shmUnlink: (name) => addon.shmUnlink(name),
    closeShm: (fd) => addon.closeFd(fd),
    adviseFile(path, fd, offset, length, advice) {
      addon.fileAdvise(path, fd, offset, length, advice);
    },
    reserveFile: (fd, size) => addon.reserveFile(fd, size),
    mapFile(req: MapFileRequest): BackendMapping {
      guardCurrent();
      const [h, length] = addon.mapFile(
        req.path, req.fd, ACCESS[req.access], req.offset, req.length, req.size, req.mode,
        req.exec, req.populate, req.hugePages, req.lock,
      );
      return new NativeMapping(addon, h, length, (current) => heap.mapFile({ ...req, size: -1, length: current, lock: false }));
    },
    mapAnonymous(req: MapAnonymousRequest): BackendMapping {
      guardCurrent();
      const h = addon.mapAnonymous(req.length, req.shared, req.exec, req.populate, req.hugePages, req.lock);
      return new NativeMapping(addon, h, req.length, (current) => heap.mapAnonymous({ ...req, length: current, lock: false }));
    },
  };
}
