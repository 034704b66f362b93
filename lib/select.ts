// The one place where the backend is chosen.
import type { Backend } from "./backend.js";
import { nativeBackend } from "./backends/native.js";
import { loadAddon, type NativeAddon } from "./load.js";

let addon: NativeAddon | undefined;

/** The loaded addon, for the raw layer (which has no portable form). */
export function nativeAddon(): NativeAddon {
  addon ??= loadAddon();
  return addon;
}

function choose(): Backend {
  return nativeBackend(nativeAddon(), "the native addon loaded");
}

/** The backend every mapping of this thread is made by. */
export const backend: Backend = choose();
