// The output's files on disk (lib/output.ts): the temporary file's name
// beside the destination, the end of a destination's symbolic links (what
// commit renames over), opening a destination written in place, reserving
// blocks, commit's truncate, fsync and rename, and system errors that name
// the paths the caller gave.
import {
  closeSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, openSync, readlinkSync, realpathSync, renameSync, statSync,
  type Stats,
} from "node:fs";
import * as fsp from "node:fs";
import { promisify } from "node:util";
import { basename, dirname, isAbsolute, join, sep } from "node:path";
import { randomBytes } from "node:crypto";
import { backend } from "./select.js";
import { backendCall, invalidArgValue, memmapError, systemError, systemErrorCode } from "./errors.js";

const fsync = promisify(fsp.fsync);
const ftruncate = promisify(fsp.ftruncate);
const rename = promisify(fsp.rename);
const close = promisify(fsp.close);
const openAsync = promisify(fsp.open);

/** Stale temporary files are named `.<name>.memmap-<pid>-<random>.tmp`. */
export const TEMP_FILE_PATTERN = /^\..+\.memmap-\d+-[0-9a-f]+\.tmp$/;

/** A new temporary file name beside `path`, matching TEMP_FILE_PATTERN. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.memmap-${process.pid}-${randomBytes(6).toString("hex")}.tmp`);
}

// The file `path` names: the end of its chain of symbolic links, which is
// what an atomic output must rename over (as npm's write-file-atomic does),
// for a rename over the link would replace the link with a regular file and
// leave its target as it was. A dangling link names the file to make. A
// relative target is resolved against the link's directory as the kernel
// does, through that directory's real path (a ".." in it goes up from where
// the directory really is). More than 40 links (Linux's MAXSYMLINKS) is
// ELOOP, as open() says. A path that cannot be looked at is returned as it
// is: opening it reports why.
const MAX_LINK_HOPS = 40;
export function linkTarget(path: string): string {
  let at = path;
  for (let hops = 0; ; hops++) {
    let link: boolean;
    try {
      link = lstatSync(at).isSymbolicLink();
    } catch {
      link = false;
    }
    if (!link) return hops === 0 ? at : realDirectory(at);
    if (hops === MAX_LINK_HOPS) throw systemErrorCode("ELOOP", "open", path);
    const target = readlinkSync(at);
    at = isAbsolute(target) ? target : realpathSync.native(dirname(at)) + sep + target;
  }
}

// `path` with its directory's real path, so that a ".." a link's target
// left in it is taken from where the directory really is.
function realDirectory(path: string): string {
  try {
    return join(realpathSync.native(dirname(path)), basename(path));
  } catch {
    return path; // no such directory: opening the file says so
  }
}

// The temporary file is ours, not the user's: a failure to make it (its
// folder missing or read-only, say) names the destination they gave.
export function ofDestination(e: unknown, dest: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err === null || typeof err !== "object" || typeof err.errno !== "number" || typeof err.syscall !== "string") return e;
  return systemError(-err.errno, err.syscall, dest);
}

export function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

// Grows the file to `size` bytes and reserves the blocks (fallocate), as the
// mapped path does, so that a full disk is ENOSPC now and not at commit.
export function reserveBlocks(fd: number, size: number): void {
  backendCall(() => backend.reserveFile(fd, size));
}

// An output is written at positions (the region, then the tail): a pipe or
// a socket cannot be, and waiting in open() for a FIFO's reader would freeze
// the event loop. Refused before anything is opened.
export function notSeekable(path: string): Error {
  return invalidArgValue("path", path, "is a FIFO or a socket: an output is written at positions (a regular file or a device)");
}

// A system error from a step on the descriptor names the file, as fs does:
// `path` the file written (the temporary file when atomic), `dest` the
// destination.
export function namePaths(e: unknown, path: string, dest: string | undefined): unknown {
  const err = e as NodeJS.ErrnoException & { dest?: string };
  if (err !== null && typeof err === "object" && err.code !== undefined && err.syscall !== undefined) {
    err.path ??= path;
    if (dest !== undefined) err.dest ??= dest;
  }
  return e;
}

// Opens an existing destination for writing in place. O_NONBLOCK, so that a
// FIFO put there since it was looked at cannot block open() (it is refused
// just after, by its type); cleared for devices by opening them again.
export function openInPlace(path: string, regular: boolean): number {
  const C = fsp.constants;
  const flags = (regular ? C.O_RDWR : C.O_WRONLY) | C.O_NOCTTY;
  const probe = openSync(path, flags | C.O_NONBLOCK);
  let st: Stats;
  try {
    st = fstatSync(probe);
  } catch (e) {
    closeSync(probe);
    throw e;
  }
  if (st.isFile() && regular) return probe; // O_NONBLOCK means nothing to a regular file
  closeSync(probe);
  if (st.isFIFO() || st.isSocket()) throw notSeekable(path);
  if (!st.isFile() && !regular) return openSync(path, flags); // a device: opening it does not wait
  throw memmapError("ERR_MEMMAP_CHANGED", `createOutput: ${path} changed type while it was being opened`, { path });
}

function fsyncDirectory(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself stands.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Commit's last step on the descriptor: the file cut to its final length and made durable. */
export function truncateDurablySync(fd: number, length: number): void {
  ftruncateSync(fd, length);
  fsyncSync(fd);
}

/** {@link truncateDurablySync} on the thread pool. */
export async function truncateDurably(fd: number, length: number): Promise<void> {
  await ftruncate(fd, length);
  await fsync(fd);
}

/** Commit's last step: the written file renamed over `target`, and the rename made durable. */
export function renameIntoPlaceSync(writePath: string, target: string): void {
  renameSync(writePath, target);
  fsyncDirectory(dirname(target));
}

/** {@link renameIntoPlaceSync} on the thread pool. */
export async function renameIntoPlace(writePath: string, target: string): Promise<void> {
  await rename(writePath, target);
  const dir = await openAsync(dirname(target), "r").catch(() => -1);
  if (dir >= 0) {
    await fsync(dir).catch(() => undefined);
    await close(dir);
  }
}
