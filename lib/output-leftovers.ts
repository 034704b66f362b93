// What an output (lib/output.ts) dropped without commit() or abort() still
// undoes, when the collector finds it or at exit; and on Windows, the
// temporary files it could not delete yet.
import { closeSync, unlinkSync } from "node:fs";
import { basename } from "node:path";
import type { Mapping } from "./mapping.js";
import { TEMP_FILE_PATTERN } from "./output-disk.js";

// What an output dropped without commit() or abort() must still undo: its
// descriptor, and the temporary file (or the file it created in place).
// The garbage collector's finalizer does it, and so does a normal exit for
// every output still open then.
// On Windows the mapping too: a file with a view cannot be deleted there, so
// a dropped output's mapping is unmapped with it (views of it detach) rather
// than whenever the collector gets to it.
export interface Leftover {
  fd: number;
  path: string;
  remove: boolean;
  mapping?: Mapping | undefined;
}
const leftovers = new Set<Leftover>();
function undoLeftover(l: Leftover): void {
  leftovers.delete(l);
  if (l.mapping) {
    try {
      l.mapping.unmap();
    } catch {
      // Unmapped all the same; the output is being thrown away.
    }
    l.mapping = undefined;
  }
  if (l.fd >= 0) {
    try {
      closeSync(l.fd);
    } catch {
      // Already closed.
    }
    l.fd = -1;
  }
  if (l.remove) {
    l.remove = false;
    try {
      unlinkSync(l.path);
    } catch (e) {
      // Already gone; or, on Slabs, held open by someone else (a mapped
      // file cannot be deleted there): a temporary file of ours is tried
      // again later. Never a path the user names, which could be a new
      // file by then.
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" && process.platform === "win32" && TEMP_FILE_PATTERN.test(basename(l.path))) {
        unremoved.add(l.path);
      }
    }
  }
}
// Temporary files Windows refused to delete while their views lived: tried
// again whenever an output is made, and at exit.
const unremoved = new Set<string>();
function retryUnremoved(): void {
  for (const path of unremoved) {
    try {
      unlinkSync(path);
      unremoved.delete(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") unremoved.delete(path);
    }
  }
}
const dropped = new FinalizationRegistry<Leftover>(undoLeftover);
let exitHooked = false;
/** Undoes `l` when `output` is collected, or at exit, unless forgetLeftover() is called first. */
export function trackLeftover(output: object, l: Leftover): void {
  if (unremoved.size > 0) retryUnremoved();
  leftovers.add(l);
  dropped.register(output, l, output);
  if (!exitHooked) {
    exitHooked = true;
    process.on("exit", () => {
      for (const left of [...leftovers]) undoLeftover(left);
      retryUnremoved();
    });
  }
}

/** The output was committed or aborted: nothing is left to undo. */
export function forgetLeftover(output: object, l: Leftover): void {
  l.fd = -1; // closed by commit or by the abort
  l.remove = false;
  l.mapping = undefined;
  leftovers.delete(l);
  dropped.unregister(output);
}
