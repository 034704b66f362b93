// The test suite's tiers: the one list every runner reads (scripts/test.mjs
// for npm test, test:darwin-paths and test:runtimes on Node and Bun;
// scripts/test-windows.mjs under wine). docs/testing.md explains them.
//
//  * parallel: every file not named below. Such a file changes and measures
//    nothing outside its own processes (its temporary folder, its children,
//    shared memory under a name of its own), so any number of them run at
//    once, one process per file.
//  * serial: the files below, which change or measure state the whole
//    machine shares. They run one file at a time, after the run's parallel
//    tier, and never two at once on this machine: the runner holds a lock
//    (flock on SERIAL_LOCK) for the whole serial tier, so two suite runs at
//    once (CI's lanes, two checkouts) take turns. A parallel-tier file may
//    run alongside them: it neither changes nor reads what they change.
//  * once: files whose result does not depend on the runtime or the backend,
//    run in one pass of the suite only (npm test's native pass), not in
//    every runtime's and backend's. Each says which runs include it.
//
// A test that starts to touch machine-wide state moves its file here (or
// moves to a file here): mounts, loop devices, the page cache, resource
// limits, the kernel's limits run to exhaustion, system-wide counters.
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const testDir = resolve(fileURLToPath(new URL(".", import.meta.url)));

/** The serial tier: file name -> what it touches that the machine shares. */
export const SERIAL = {
  "blockdevice.test.ts": "attaches a loop device (losetup -f): /dev/loopN are the machine's, and two attaches at once can race for the same one",
  "cli.test.ts": "evicts files from the page cache (memmap evict: posix_fadvise DONTNEED) and asserts how many of their pages are resident, against vmtouch and fincore; lowers RLIMIT_MEMLOCK for a child",
  "enospc.test.ts": "mounts 1 MiB tmpfs file systems (the mount table) and fills them",
  "output-refused.test.ts": "mounts a 1 MiB tmpfs and fills it (grow() of an output that became a heap copy: ENOSPC)",
  "limits.test.ts": "runs children to the kernel's limit on mappings (vm.max_map_count), thousands of threads (kernel.pid_max is the machine's) and gigabytes of address space; mounts a tmpfs",
  "scale.test.ts": "200,000 mappings in one process, RLIMIT_NOFILE at 256, 128 MiB populated and locked (RLIMIT_MEMLOCK), 8 GiB sparse files",
};

/**
 * Run once per CI: file name -> { why, in }. `in` names the passes that run
 * it; every other run leaves it out (scripts/test.mjs --once).
 */
export const ONCE = {
  "native.test.ts": {
    why: "builds the C++ unit tests of src/core/ (MappedRange, the Lease state machine) with g++ and runs them: no JavaScript runtime or backend is involved",
    in: "npm test's native pass (the Linux sources) and test:darwin-paths' native pass (the macOS-paths sources, a different build)",
  },
  "types.test.ts": {
    why: "compiles code against dist/*.d.ts with the TypeScript compiler: the same on every runtime and backend",
    in: "npm test's native pass",
  },
};

/** The lock the serial tier holds, machine-wide (see above). */
export const SERIAL_LOCK = join(tmpdir(), "memmap-serial-tier.lock");

/** Every test file's name (test/*.test.ts), sorted. */
export function testFiles() {
  return readdirSync(testDir).filter((f) => f.endsWith(".test.ts")).sort();
}

/**
 * The files of each tier, as names in test/. `once`: true for every ONCE
 * file, or the list of those to include; none by default.
 */
export function tiers({ once = [] } = {}) {
  const files = testFiles();
  for (const name of [...Object.keys(SERIAL), ...Object.keys(ONCE)]) {
    if (!existsSync(join(testDir, name))) throw new Error(`test/tiers.mjs names ${name}, which is not in test/`);
  }
  const included = once === true ? Object.keys(ONCE) : once;
  for (const name of included) if (!(name in ONCE)) throw new Error(`${name} is not a run-once file (test/tiers.mjs)`);
  const kept = files.filter((f) => !(f in ONCE) || included.includes(f));
  return {
    parallel: kept.filter((f) => !(f in SERIAL)),
    serial: kept.filter((f) => f in SERIAL),
    left: files.filter((f) => !kept.includes(f)),
  };
}
