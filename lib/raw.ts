// memmap/raw: the golang.org/x/sys/unix calls, for code ported from C or Go.
//
// Unlike x/sys, these still cannot crash the process, with one documented
// exception: mprotect() can make pages inaccessible, and JavaScript touching
// them then dies with SIGSEGV. Everything else is refused or made safe:
//  * mmap() takes no address and refuses MAP_FIXED, MAP_FIXED_NOREPLACE and
//    MAP_GROWSDOWN; it requires PROT_READ; a mapping without PROT_WRITE is
//    made private and writable, so a stray JavaScript write stays in a
//    private copy of the page instead of faulting; a file range past the end
//    of the file is a RangeError.
//  * munmap() accepts only the very Buffer mmap() returned (a slice, a copy,
//    or a second call is EINVAL) and detaches it first.
//  * The other calls accept only Buffers that lie inside a live mmap() result.
import { nativeAddon } from "./select.js";
// The raw layer is the system calls themselves: it has no portable form, and
// importing it where the addon cannot load throws ERR_MEMMAP_NO_ADDON.
import { invalidArgType, backendCall } from "./errors.js";
import { validateInteger } from "./validate.js";

const addon = nativeAddon();

/** The platform's PROT_*, MAP_*, MADV_* and MS_* values. */
export const constants: Readonly<Record<string, number>> = Object.freeze({ ...addon.constants });

function checkView(buffer: unknown): ArrayBufferView {
  if (!ArrayBuffer.isView(buffer) || buffer instanceof DataView) {
    throw invalidArgType("buffer", "an instance of Buffer or TypedArray", buffer);
  }
  return buffer;
}

/**
 * mmap(2). `fd` is ignored (pass -1) with MAP_ANONYMOUS; `offset` must be a
 * multiple of the page size (EINVAL otherwise).
 * @example const buf = mmap(fd, 0, 4096, constants.PROT_READ, constants.MAP_SHARED);
 */
export function mmap(fd: number, offset: number, length: number, prot: number, flags: number): Buffer {
  validateInteger(fd, "fd", -1, 0x7fffffff);
  validateInteger(offset, "offset");
  validateInteger(length, "length", 1);
  validateInteger(prot, "prot", 0, 0x7fffffff);
  validateInteger(flags, "flags", 0, 0x7fffffff);
  return Buffer.from(backendCall(() => addon.rawMmap(fd, offset, length, prot, flags)));
}

/** munmap(2) of a Buffer returned by mmap(); the Buffer is detached. */
export function munmap(buffer: Buffer): void {
  const b = checkView(buffer);
  backendCall(() => addon.rawMunmap(b));
}

// The calls on the pages a buffer covers, with their integer argument (if any) checked.
function callOnPages(op: "msync" | "madvise" | "mprotect" | "mlock" | "munlock", buffer: ArrayBufferView, arg?: { name: string; value: number }): void {
  const b = checkView(buffer);
  if (arg !== undefined) validateInteger(arg.value, arg.name, 0, 0x7fffffff);
  backendCall(() => addon.rawPages(op, b, arg?.value ?? 0));
}

/** msync(2) over the pages `buffer` covers. */
export function msync(buffer: ArrayBufferView, flags: number): void {
  callOnPages("msync", buffer, { name: "flags", value: flags });
}

/** madvise(2) over the pages `buffer` covers. MADV_HWPOISON and the like are refused. */
export function madvise(buffer: ArrayBufferView, advice: number): void {
  callOnPages("madvise", buffer, { name: "advice", value: advice });
}

/**
 * mprotect(2) over the pages `buffer` covers. The one call in memmap that can
 * make JavaScript access fault: after `mprotect(buf, PROT_NONE)` (or without
 * PROT_WRITE), touching `buf` kills the process with SIGSEGV (on Windows: exit status 0xC0000005).
 */
export function mprotect(buffer: ArrayBufferView, prot: number): void {
  callOnPages("mprotect", buffer, { name: "prot", value: prot });
}

/** mlock(2) over the pages `buffer` covers. */
export function mlock(buffer: ArrayBufferView): void {
  callOnPages("mlock", buffer);
}

/** munlock(2) over the pages `buffer` covers. */
export function munlock(buffer: ArrayBufferView): void {
  callOnPages("munlock", buffer);
}

/** mincore(2): one byte a page, 1 where resident. */
export function mincore(buffer: ArrayBufferView): Uint8Array {
  const b = checkView(buffer);
  return backendCall(() => addon.rawPages("mincore", b, 0));
}
