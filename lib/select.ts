// The one place where the backend is chosen.
//
// - MEMMAP_BACKEND=portable: the portable backend.
// - MEMMAP_BACKEND=native: the native addon, or a clear error where it cannot load.
// - otherwise: the native addon when it loads and works, else the portable
//   backend, with the reason kept in `backend.reason`. On macOS, where the
//   addon has never run (see nativeOptIn), it is not even loaded: the
//   portable backend, and the reason says how to opt in.
//
// It is also where the two backends meet: the native one is given the
// portable one's heap mappings (its `heap`, and a mapping's copy where the
// runtime refuses external buffers), so that neither imports the other.
import { existsSync } from "node:fs";
import { relative } from "node:path";
import type { Backend } from "./backend.js";
import { nativeBackend } from "./backends/native.js";
import { heapMappings, portableBackend } from "./backends/portable.js";
import { candidates, loadAddon, loadedFrom, packageRoot, type NativeAddon } from "./load.js";
import { memmapError } from "./errors.js";

/**
 * Whether the native addon may be loaded on `platform` without being asked
 * for: null where it may (Linux, Slabs, and macOS with
 * MEMMAP_BACKEND=native in `env`), else why not and how to opt in.
 *
 * The macOS addon (prebuilds/darwin-x64/memmap.node,
 * prebuilds/darwin-arm64/memmap.node, or a build from source) is built, but
 * memmap's test suite has never run on a Mac, so nothing vouches for it
 * there; the portable backend, which is tested everywhere, is the default
 * until it has. `addon` is the file an opt-in would load, relative to the
 * package (the first of candidates() that exists), or null where there is
 * none: then there is nothing to opt in to, and the loader's own error (what
 * was tried, and the fix) is the honest reason.
 *
 * Pure: it reads neither the process nor the disk, so every platform's
 * answer can be tested anywhere.
 * @example nativeOptIn("darwin", {}, "prebuilds/darwin-arm64/memmap.node") // "the native backend is opt-in on macOS …"
 * @example nativeOptIn("darwin", { MEMMAP_BACKEND: "native" }, "prebuilds/darwin-arm64/memmap.node") // null
 * @example nativeOptIn("linux", {}, "build/Release/memmap.node") // null
 */
export function nativeOptIn(platform: string, env: Readonly<Record<string, string | undefined>>, addon: string | null): string | null {
  if (platform !== "darwin" || env["MEMMAP_BACKEND"] === "native" || addon === null) return null;
  return `the native backend is opt-in on macOS until memmap's test suite has run on a Mac: set MEMMAP_BACKEND=native to use it (${addon})`;
}

// The addon file loadAddon() would load first, relative to the package, or null.
function addonOnDisk(): string | null {
  const file = candidates().find((f) => existsSync(f));
  return file === undefined ? null : relative(packageRoot, file);
}

let addon: NativeAddon | undefined;
let addonError: Error | undefined;

/**
 * The loaded addon, for the native backend and the raw layer (which has no
 * portable form).
 *
 * On macOS without MEMMAP_BACKEND=native this throws ERR_MEMMAP_NO_ADDON
 * with nativeOptIn's reason, for the raw layer too: importing `memmap/raw`
 * there fails with a message that names the opt-in, rather than loading
 * native code that has never been tested on a Mac. The raw calls have no
 * fallback to give instead, and a process that wants them can set
 * MEMMAP_BACKEND=native (which also makes the rest of memmap native).
 * @throws ERR_MEMMAP_NO_ADDON where the addon cannot load, or on macOS without the opt-in.
 */
export function nativeAddon(): NativeAddon {
  if (addon) return addon;
  if (addonError) throw addonError;
  try {
    // Only macOS asks: elsewhere no candidate is looked at twice at start-up.
    const notOptedIn = process.platform === "darwin" ? nativeOptIn(process.platform, process.env, addonOnDisk()) : null;
    if (notOptedIn !== null) throw memmapError("ERR_MEMMAP_NO_ADDON", `memmap: ${notOptedIn}`);
    addon = loadAddon();
    return addon;
  } catch (e) {
    addonError = e as Error;
    throw e;
  }
}

function chooseBackend(): Backend {
  const forced = process.env["MEMMAP_BACKEND"];
  if (forced !== undefined && forced !== "" && forced !== "native" && forced !== "portable") {
    throw memmapError("ERR_MEMMAP_BACKEND", `MEMMAP_BACKEND must be "native" or "portable", not "${forced}"`);
  }
  if (forced === "portable") return portableBackend("MEMMAP_BACKEND=portable");
  let a: NativeAddon;
  try {
    a = nativeAddon();
  } catch (e) {
    // The loader's message (or the opt-in's) says it all, once: what was
    // tried and the fix.
    const why = (e as Error).message.replace(/^memmap: /, "");
    if (forced === "native") throw memmapError("ERR_MEMMAP_NO_ADDON", `MEMMAP_BACKEND=native, but ${why}`);
    return portableBackend(why);
  }
  return nativeBackend(a, `${forced === "native" ? "MEMMAP_BACKEND=native: " : ""}the native addon loaded (${loadedFrom})`, heapMappings);
}

/** The backend every mapping of this thread is made by: `backend.name` and `backend.reason` say which and why. */
export const backend: Backend = chooseBackend();
