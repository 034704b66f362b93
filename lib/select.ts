// The one place where the backend is chosen.
//
// - MEMMAP_BACKEND=portable: the portable backend.
// - MEMMAP_BACKEND=native: the native addon, or a clear error where it cannot load.
// - otherwise: the native addon when it loads and works, else the portable
//   backend, with the reason kept in `backend.reason`.
import type { Backend } from "./backend.js";
import { nativeBackend } from "./backends/native.js";
import { portableBackend } from "./backends/portable.js";
import { loadAddon, loadedFrom, type NativeAddon } from "./load.js";
import { memmapError } from "./errors.js";

let addon: NativeAddon | undefined;
let addonError: Error | undefined;

/** The loaded addon, for the raw layer (which has no portable form). */
export function nativeAddon(): NativeAddon {
  if (addon) return addon;
  if (addonError) throw addonError;
  try {
    addon = loadAddon();
    return addon;
  } catch (e) {
    addonError = e as Error;
    throw e;
  }
}

function choose(): Backend {
  const forced = process.env["MEMMAP_BACKEND"];
  if (forced !== undefined && forced !== "" && forced !== "native" && forced !== "portable") {
    throw memmapError("ERR_MEMMAP_BACKEND", `MEMMAP_BACKEND must be "native" or "portable", not "${forced}"`);
  }
  if (forced === "portable") return portableBackend("MEMMAP_BACKEND=portable");
  let a: NativeAddon;
  try {
    a = nativeAddon();
  } catch (e) {
    // The loader's message says it all, once: what was tried and the fix.
    const why = (e as Error).message.replace(/^memmap: /, "");
    if (forced === "native") throw memmapError("ERR_MEMMAP_NO_ADDON", `MEMMAP_BACKEND=native, but ${why}`);
    return portableBackend(why);
  }
  return nativeBackend(a, `${forced === "native" ? "MEMMAP_BACKEND=native: " : ""}the native addon loaded (${loadedFrom})`);
}

/** The backend every mapping of this thread is made by: `backend.name` and `backend.reason` say which and why. */
export const backend: Backend = choose();
