// Finds and loads the native addon: a prebuilt binary for this platform if
// the package ships one, else the one node-gyp built at install. Every
// failure on the way is kept, so that the final error says what was tried.
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { WaitResult } from "./backend.js";
import { memmapError } from "./errors.js";

/** The functions the addon exports (each src/*.cc registers its own; test/exports.test.ts checks this list). */
export interface NativeAddon {
  pageSize: number;
  allocationGranularity: number;
  /** The platform file it was built with: "linux", "darwin", "darwin-paths" (Linux taking macOS's branches) or "win32". */
  system: string;
  /** Whether shared memory can grow once sized (not on macOS: POSIX shared memory is sized once there). */
  sharedMemoryResizable: boolean;
  constants: Record<string, number>;
  adviceNames: string[];
  mapFile(
    path: string | null, fd: number, access: number, offset: number, length: number, size: number,
    mode: number, exec: boolean, populate: boolean, hugePages: boolean, lock: boolean,
  ): [NativeHandle, number];
  mapAnonymous(length: number, shared: boolean, exec: boolean, populate: boolean, hugePages: boolean, lock: boolean): NativeHandle;
  /** An external ArrayBuffer over mapping bytes [offset, offset + length), pinned or collectable: see lib/slabs.ts. */
  slab(h: NativeHandle, offset: number, length: number, pinned: boolean): ArrayBuffer;
  unmap(h: NativeHandle): boolean;
  /** Gives up the handle's hold; the range lives while a slab does. False if already closed or released. */
  release(h: NativeHandle): boolean;
  /** msync(2) over a range: MS_ASYNC when `async`, else MS_SYNC. */
  msync(h: NativeHandle, offset: number, length: number, async: boolean): void;
  flush(h: NativeHandle, offset: number, length: number): Promise<void>;
  prefetch(h: NativeHandle, offset: number, length: number): Promise<void>;
  advise(h: NativeHandle, offset: number, length: number, advice: string): void;
  lock(h: NativeHandle, offset: number, length: number, lock: boolean): void;
  residency(h: NativeHandle, offset: number, length: number): Buffer;
  resize(h: NativeHandle, newLength: number): void;
  rawMmap(fd: number, offset: number, length: number, prot: number, flags: number): ArrayBuffer;
  rawMunmap(buffer: ArrayBufferView): void;
  /** The raw calls on the pages `buffer` covers; `arg` is msync's flags, madvise's advice or mprotect's prot. */
  rawPages(op: "mincore", buffer: ArrayBufferView, arg: number): Buffer;
  rawPages(op: "msync" | "madvise" | "mprotect" | "mlock" | "munlock", buffer: ArrayBufferView, arg: number): void;
  /**
   * live: ranges mapped (process); forcedGcs: collections forced; slabs: native slab records (this thread);
   * reported: bytes this thread's mappings report to V8 as external memory.
   */
  stats(): { live: number; forcedGcs: number; slabs: number; reported: number };
  fileAdviceNames: string[];
  setStoreFollowsObject(on: boolean): void;
  guardReassert(jsListening: boolean): boolean;
  faults(h: NativeHandle): number;
  share(h: NativeHandle): number;
  attach(id: number): [NativeHandle, number];
  fd(h: NativeHandle): number;
  shmOpen(name: string, create: boolean, exclusive: boolean, mode: number, size: number): [number, boolean];
  shmUnlink(name: string): void;
  closeFd(fd: number): void;
  wait(h: NativeHandle, byteOffset: number, expected: number, timeoutMs: number): WaitResult;
  waitAsync(h: NativeHandle, byteOffset: number, expected: number, timeoutMs: number, persistent: boolean): Promise<WaitResult>;
  notify(h: NativeHandle, byteOffset: number, count: number): number;
  setFaultCallback(h: NativeHandle, fn: ((offset: number, length: number, pages: number) => void) | null): void;
  fileAdvise(path: string | null, fd: number, offset: number, length: number, advice: string): void;
  /** Grows the file behind `fd` to `size` bytes, reserving the blocks (fallocate); on failure the size is as it was. */
  reserveFile(fd: number, size: number): void;
}


/** An opaque native handle (a Node-API external). */
export type NativeHandle = { readonly __memmapHandle: unique symbol };

/** The package's root folder (this file is dist/load.js). */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

// MEMMAP_TEST_ADDON=1 loads the test build (binding.gyp's memmap_test), whose
// extra exports (the *ForTest functions: MEMMAP_TEST_HOOKS in src/) only
// tests call.
/**
 * The addon files loadAddon() tries, in order, for a platform and
 * architecture (by default this process's).
 * @example candidates(packageRoot, "darwin", "arm64") // [build/Release/memmap.node, prebuilds/darwin-arm64/memmap.node, build/Debug/memmap.node]
 */
export function candidates(root = packageRoot, platform: string = process.platform, arch: string = process.arch): string[] {
  if (process.env["MEMMAP_TEST_ADDON"] === "1") {
    // On Windows: the mingw test build (scripts/prebuild-win.mjs --test).
    return [join(root, "build", platform === "win32" ? "win" : "Release", "memmap_test.node")];
  }
  // A build from source first: it exists only where one was made (no
  // matching prebuild, MEMMAP_BUILD_FROM_SOURCE=1, `npm rebuild memmap`).
  // Then the prebuilt addon for this platform; one that cannot load here is passed over.
  const present = prebuildFiles(root, platform, arch).filter((f) => existsSync(f));
  const prebuilt = present.length > 0 ? present : prebuildFiles(root, platform, arch).slice(0, 1);
  return [join(root, "build", "Release", "memmap.node"), ...prebuilt, join(root, "build", "Debug", "memmap.node")];
}

/**
 * The prebuilt addons the package may ship for a platform, most likely
 * first: the one list of their names, which scripts/install.mjs reads too.
 * Linux's are tagged by their C library (scripts/prebuild.mjs, as
 * node-gyp-build's tags have it); Windows and macOS have one C library
 * each, and theirs are untagged (scripts/prebuild-win.mjs,
 * scripts/prebuild-darwin.mjs).
 */
export function prebuildFiles(root = packageRoot, platform: string = process.platform, arch: string = process.arch): string[] {
  const dir = join(root, "prebuilds", `${platform}-${arch}`);
  const names = platform === "win32" || platform === "darwin" ? ["memmap.node"] : ["memmap.glibc.node", "memmap.musl.node"];
  return names.map((name) => join(dir, name));
}

/** The addon file that loadAddon() loaded, relative to the package (build/Release/… or prebuilds/…). */
export let loadedFrom = "";

/**
 * What brings the native backend back where the addon did not build or load,
 * on a platform (by default this one's).
 * @example addonFix("darwin") // "The package ships it for macOS x64 and arm64 …"
 */
export function addonFix(platform: string = process.platform): string {
  if (platform === "win32") {
    return "The package ships it for Windows x64 (prebuilds/win32-x64/memmap.node): reinstall memmap; elsewhere on Slabs, build it with Visual Studio's C++ tools and `npm rebuild memmap`";
  }
  if (platform === "darwin") {
    // MEMMAP_BUILD_FROM_SOURCE=1 asks scripts/install.mjs for a build even
    // where it would take a prebuild that loads (as it does on Windows and
    // Linux). The opt-in is named here too: without it, an addon that loads
    // is still not used on macOS (select.ts).
    return "The package ships it for macOS x64 and arm64 (prebuilds/darwin-x64/memmap.node, prebuilds/darwin-arm64/memmap.node): reinstall memmap; " +
      "or build it from source with Xcode's command line tools (xcode-select --install) and `MEMMAP_BUILD_FROM_SOURCE=1 npm rebuild memmap`. " +
      "On macOS it is used only with MEMMAP_BACKEND=native, until memmap's test suite has run on a Mac";
  }
  return "To build it: install python3, make and a C++ compiler (Debian/Ubuntu: apt-get install python3 make g++), then run `npm rebuild memmap`";
}

/** What brings the native backend back on this platform (addonFix(process.platform)). */
export const ADDON_FIX = addonFix();

/** Loads the addon, or throws one error that lists every attempt and names the fix. */
export function loadAddon(root = packageRoot): NativeAddon {
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const file of candidates(root)) {
    if (!existsSync(file)) {
      failures.push(`${file}: not found`);
      continue;
    }
    try {
      const addon = require(file) as NativeAddon;
      loadedFrom = relative(root, file);
      return addon;
    } catch (e) {
      failures.push(`${file}: ${(e as Error).message}`);
    }
  }
  // Why the install step did not build it, if it said (scripts/install.mjs).
  const installError = join(root, "build", "install-error.txt");
  const why = existsSync(installError) ? `${readFileSync(installError, "utf8").trim()}; ` : "";
  throw memmapError("ERR_MEMMAP_NO_ADDON", `memmap: the native addon could not be loaded (${why}${failures.join("; ")}). ${ADDON_FIX}`);
}
