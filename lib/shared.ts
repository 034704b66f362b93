// Shared memory between threads and processes: attach() for a handle posted
// by another worker thread, openShared()/unlinkShared() for POSIX named
// shared memory that unrelated processes (in any language) open by name.
import { backend } from "./select.js";
import { map } from "./map.js";
import { Mapping, type SharedHandle } from "./mapping.js";
import { invalidArgType, invalidArgValue, backendCall, fixedSizeSection } from "./errors.js";
import { optionalBoolean, optionsSnapshot, validateInteger } from "./validate.js";

/**
 * Maps, in this thread, the shared memory that {@link Mapping.share} made a
 * handle for in another thread of this process.
 * @throws ERR_MEMMAP_GONE when every mapping of it was unmapped first.
 * @example
 * // worker: parentPort.on("message", (h) => { const m = attach(h); ... })
 */
export function attach(handle: SharedHandle): Mapping {
  const h = optionsSnapshot(handle, ["kind", "id"], "handle");
  if (h["kind"] !== "memmap.SharedHandle") throw invalidArgType("handle", "a SharedHandle from Mapping.share()", handle);
  const id = validateInteger(h["id"], "handle.id", 1);
  return new Mapping(backendCall(() => backend.attach(id)), "anonymous", 0);
}

// POSIX names: one component, no slash but an optional leading one (which
// shm_open wants and we add), so nothing can reach outside /dev/shm.
// On Windows a name may also start with Local\ (the default: this session)
// or Global\ (every session; needs SeCreateGlobalPrivilege to create).
function shmName(name: unknown): string {
  if (typeof name !== "string") throw invalidArgType("name", "of type string", name);
  const prefix = process.platform === "win32" ? /^(Local|Global)\\/.exec(name)?.[0] ?? "" : "";
  const bare = prefix ? name.slice(prefix.length) : name.startsWith("/") ? name.slice(1) : name;
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(bare) || bare === "." || bare === "..") {
    throw invalidArgValue("name", name, "must be 1 to 200 letters, digits, '.', '_' or '-' (an optional leading '/' is allowed" +
      (process.platform === "win32" ? ", or Local\\ or Global\\ on Windows)" : ")"));
  }
  return prefix + bare;
}

// The name errors show: the object's own name on this system.
function shownName(bare: string): string {
  if (process.platform !== "win32") return `/${bare}`;
  return /^(Local|Global)\\/.test(bare) ? bare : `Local\\${bare}`;
}

export interface SharedOptions {
  /** Bytes: the object is created with (or grown to) at least this size. Default: its current size. */
  size?: number;
  /** Create it if missing. Default true. */
  create?: boolean;
  /** Fail with EEXIST if it exists. Default false. */
  exclusive?: boolean;
  /** Permissions of a created object. Default 0o600. */
  mode?: number;
}

/**
 * Opens (or creates) POSIX named shared memory and maps it read-write:
 * `openShared("x")` is the object C's `shm_open("/x")` opens. The same name
 * opened by two processes is the same memory; wait()/notify() work across them.
 * @throws ERR_INVALID_ARG_VALUE for a bad name, EEXIST with exclusive, ENOENT without create.
 */
export function openShared(name: string, options?: SharedOptions): Mapping {
  const bare = shmName(name);
  const o = optionsSnapshot(options, ["size", "create", "exclusive", "mode"]);
  const size = o["size"] === undefined ? -1 : validateInteger(o["size"], "options.size");
  const create = optionalBoolean(o, "create", true);
  const exclusive = optionalBoolean(o, "exclusive", false);
  const mode = o["mode"] === undefined ? 0o600 : validateInteger(o["mode"], "options.mode", 0, 0o7777);
  let opened: [number, boolean];
  try {
    opened = backendCall(() => backend.shmOpen(bare, create, exclusive, mode, size), shownName(bare));
  } catch (e) {
    // Windows makes a named section with its size, once (docs/backends.md).
    if (process.platform === "win32" && (e as NodeJS.ErrnoException).code === "EINVAL" && size <= 0) {
      throw invalidArgValue("options.size", o["size"], `must be more than 0 on Windows to create named shared memory ("${name}" does not exist)`);
    }
    throw e;
  }
  const [fd, created] = opened;
  try {
    return map(fd, size >= 0 ? { access: "write", size } : { access: "write" });
  } catch (e) {
    if (created) backendCall(() => backend.shmUnlink(bare));
    throw fixedSizeSection(e);
  } finally {
    backend.closeShm(fd); // the mapping keeps its own
  }
}

/** Removes a name made by {@link openShared}; mappings of it stay valid until unmapped. */
export function unlinkShared(name: string): void {
  const bare = shmName(name);
  backendCall(() => backend.shmUnlink(bare), shownName(bare));
}
