// The native backend: the Node-API addon of src/.
import { markAsUntransferable } from "node:worker_threads";
import type { Backend, BackendMapping, MapAnonymousRequest, MapFileRequest } from "../backend.js";
import type { NativeAddon, NativeHandle } from "../load.js";

const ACCESS = { read: 0, write: 1, copy: 2 } as const;

// A Buffer over mapped memory must never be *transferred* (postMessage's
// transfer list, structuredClone's transfer): the receiver would keep a
// pointer into a range that unmap() gives back to the system. Marked so,
// Node copies it instead.
function guard(buf: Buffer): Buffer {
  if (buf.byteLength > 0) markAsUntransferable(buf.buffer);
  return buf;
}

class NativeMapping implements BackendMapping {
  #addon: NativeAddon;
  #h: NativeHandle;
  #length: number;

  constructor(addon: NativeAddon, h: NativeHandle, length: number) {
    this.#addon = addon;
    this.#h = h;
    this.#length = length;
  }

  get byteLength(): number {
    return this.#length;
  }

  view(offset: number, length: number): Buffer {
    return guard(this.#addon.view(this.#h, offset, length));
  }

  unmap(): boolean {
    return this.#addon.unmap(this.#h);
  }

  flushSync(offset: number, length: number, async: boolean): void {
    this.#addon.flushSync(this.#h, offset, length, async);
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

  resize(newLength: number): void {
    this.#addon.resize(this.#h, newLength);
    this.#length = newLength;
  }
}

export function nativeBackend(addon: NativeAddon, reason: string): Backend {
  return {
    name: "native",
    reason,
    pageSize: addon.pageSize,
    allocationGranularity: addon.allocationGranularity,
    adviceNames: Object.freeze([...addon.adviceNames]),
    fileAdviceNames: Object.freeze([...addon.fileAdviceNames]),
    adviseFile(path, fd, offset, length, advice) {
      addon.fileAdvise(path, fd, offset, length, advice);
    },
    mapFile(req: MapFileRequest): BackendMapping {
      const [h, length] = addon.mapFile(
        req.path, req.fd, ACCESS[req.access], req.offset, req.length, req.size, req.mode,
        req.exec, req.populate, req.hugePages, req.lock,
      );
      return new NativeMapping(addon, h, length);
    },
    mapAnonymous(req: MapAnonymousRequest): BackendMapping {
      const h = addon.mapAnonymous(req.length, req.shared, req.exec, req.populate, req.hugePages, req.lock);
      return new NativeMapping(addon, h, req.length);
    },
  };
}

export { guard as guardBuffer };
