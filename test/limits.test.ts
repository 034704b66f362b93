// The kernel's limit on mappings per process (vm.max_map_count) never kills
// the process: memmap keeps headroom below it (src/budget.h) and the fault
// guard never splits a mapping per fault (src/guard_posix.cc). Each case
// runs the limit out in a child, which must end cleanly and then still do
// ordinary JavaScript work (objects, a large Buffer, a file system call).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { addonPath, darwinPaths, ended, nativeOnly, runFixture, skipIf, tempDir } from "./helpers.js";

const LINUX = {
  skip: darwinPaths
    ? "the macOS-paths build has macOS's rule: no limit on mappings to read, so no mapping budget (src/platform/darwin_common.cc)"
    : process.platform === "linux" && existsSync("/proc/sys/vm/max_map_count") ? false : "Linux only: vm.max_map_count is Linux's limit",
};
const ONLY = skipIf(nativeOnly("the portable backend maps nothing: it has no kernel mappings to run out of"), LINUX);
const maxMapCount = LINUX.skip === false ? Number(readFileSync("/proc/sys/vm/max_map_count", "utf8")) : 0;

// Each case is a child, test/fixtures/limits/<name>.mjs: it prints what it
// saw, then does ordinary work (objects, a large Buffer, a file system call)
// and prints "healthy" (test/fixtures/limits/common.mjs).
function run(name: string, params: Record<string, unknown> = {}) {
  const t = tempDir();
  return runFixture(`limits/${name}.mjs`, params, [], { HEALTH_FILE: join(t.dir, "health.txt") });
}

function assertHealthy(r: ReturnType<typeof runFixture>): void {
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /healthy ok 3000000 67108864/, ended(r));
}

for (const [label, mib, how] of [
  ["every other page of a truncated 256 MiB mapping", 256, "every-other"],
  ["random 8-byte lookups in a truncated 1 GiB mapping", 1024, "random"],
] as const) {
  test(`${label}: no mapping split per fault, the process lives`, ONLY, () => {
    const t = tempDir();
    const p = t.file("truncated.bin");
    const r = run("truncated-reads", { path: p, mib, how });
    assertHealthy(r);
    assert.match(r.stdout, /sum 0 faulted true/, ended(r));
    // One step replaced everything past the file's end: a split or two
    // (and what V8 mapped for the loop), not one or two per fault (tens of
    // thousands before, until the kernel refused and the process died).
    const grew = Number(/grew (-?\d+)/.exec(r.stdout)?.[1]);
    assert.ok(grew <= 100, `the mapping count grew by ${grew}\n${ended(r)}`);
  });
}

test("writing every other page of a sparse file on a tmpfs that fills: ENOSPC, never SIGBUS", skipIf(ONLY, { skip: process.getuid?.() === 0 ? false : "mounting a tmpfs needs root" }), (t) => {
  const tmp = tempDir();
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "memmap-limits", tmp.dir], { stdio: "pipe" });
  } catch (e) {
    t.skip(`cannot mount a 1 MiB tmpfs here (${String((e as { stderr?: Buffer }).stderr ?? e).trim()}); this test needs one`);
    return;
  }
  try {
    const p = join(tmp.dir, "sparse.bin");
    const r = run("tmpfs-sparse-writes", { path: p });
    assertHealthy(r);
    assert.match(r.stdout, /faulted true/, ended(r));
    // A few single pages (8 at most), then the rest of the range in one
    // step: not two mappings per fault (SIGBUS after 32,713 before).
    const grew = Number(/grew (-?\d+)/.exec(r.stdout)?.[1]);
    assert.ok(grew <= 100, `the mapping count grew by ${grew}\n${ended(r)}`);
    // The loss is reported as what it is, with the file's path.
    assert.match(r.stdout, new RegExp(`flush: ENOSPC ${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} ENOSPC: no space left on device`), ended(r));
    assert.match(r.stdout, /unmap: ENOSPC .* closed true/, ended(r));
  } finally {
    execFileSync("umount", ["-l", tmp.dir]);
  }
});

test("80,000 live small mappings: a clean ENOMEM that names vm.max_map_count, then everything works", ONLY, () => {
  const r = run("live-small-mappings");
  assertHealthy(r);
  assert.match(r.stdout, /code ENOMEM syscall mmap/, ended(r));
  assert.match(r.stdout, /message ENOMEM: .*vm\.max_map_count/, ended(r));
  const made = Number(/made (\d+)/.exec(r.stdout)?.[1]);
  assert.ok(made > maxMapCount / 2 && made < maxMapCount, `made ${made}\n${ended(r)}`);
  const count = Number(/mappings (\d+)/.exec(r.stdout)?.[1]);
  assert.ok(count < maxMapCount - 1024, `the child reached ${count} of ${maxMapCount} mappings\n${ended(r)}`);
  assert.match(r.stdout, /again 7/, ended(r));
});

test("40,000 quarantined small mappings (unmapped, Buffers kept): no crash, unmap() never throws", ONLY, () => {
  const r = run("quarantined-small-mappings");
  assertHealthy(r);
  const count = Number(/mappings (\d+)/.exec(r.stdout)?.[1]);
  assert.ok(count < maxMapCount - 1024, `the child reached ${count} of ${maxMapCount} mappings\n${ended(r)}`);
  assert.ok(Number(/unmapped (\d+)/.exec(r.stdout)?.[1]) > 20_000, ended(r));
});

test("advice and protection over every other page: a clean ENOMEM before the kernel's limit", ONLY, () => {
  const r = run("advice-protection");
  assertHealthy(r);
  assert.match(r.stdout, /advise \d+ ENOMEM madvise true/, ended(r));
  assert.match(r.stdout, /mprotect \d+ ENOMEM mprotect true/, ended(r));
  for (const m of r.stdout.matchAll(/mappings (\d+)/g)) {
    assert.ok(Number(m[1]) < maxMapCount - 1024, `the child reached ${m[1]} of ${maxMapCount} mappings\n${ended(r)}`);
  }
});

// Review of issue 22 (adversarial): the cases below end the child today.

test("a file that shrinks under thousands of live mappings: the guard's tail replacements stay within the budget, never SIGBUS", ONLY, () => {
  // 12,000 mappings of one file (each its own kernel mapping) among 44,000
  // other live ranges, all within the budget. The file shrinks to the middle
  // of every mapping, and each is read past its new end once: the guard
  // replaces each tail with one zero-filled mapping (+1 each, charged to the
  // budget without asking), 12,000 past the line and 3,000 past the kernel's
  // limit, where even the guard's "whole range" fallback is refused: SIGBUS.
  const t = tempDir();
  const p = t.file("log.bin");
  const r = run("shrinking-file-many-mappings", { path: p });
  assertHealthy(r);
  assert.match(r.stdout, /sum 0 faulted true/, ended(r));
  const count = Number(/sum 0 faulted true mappings (\d+)/.exec(r.stdout)?.[1]);
  assert.ok(count < maxMapCount - 1024, `the child reached ${count} of ${maxMapCount} mappings\n${ended(r)}`);
});

test("advice over whole mappings the kernel merged with their neighbours is counted: no V8 fatal OOM", ONLY, () => {
  // Side by side, small anonymous mappings merge into one kernel mapping;
  // advise() over one whole mapping splits that again, yet costs nothing in
  // the budget (Mapping::SplitCost: 0 when the range's own ends are the
  // ends). 28,500 such calls add 57,000 kernel mappings that the estimate
  // never sees, and the next partial advice, granted from the stale estimate,
  // takes the process to the kernel's limit (std::bad_alloc or V8's fatal
  // OOM). The churn loop only makes the budget read /proc before the splits.
  const r = run("merged-advice");
  assertHealthy(r);
  assert.match(r.stdout, /advise \d+ ENOMEM true/, ended(r));
  const count = Number(/advise \d+ \S+ \S+ mappings (\d+)/.exec(r.stdout)?.[1]);
  assert.ok(count < maxMapCount - 1024, `the child reached ${count} of ${maxMapCount} mappings\n${ended(r)}`);
});

test("a refusal is not for ever: once other memory is given back, map() works again without unmapping memmap's own", skipIf(ONLY, {
  // Seen on Bun 1.4.5: making 9,000 memories next to 40,000 mappings took
  // 61 s (the whole test 104 s), against a second on Node.
  skip: process.versions["bun"] ? "Bun takes a minute to make the WebAssembly memories this fills the room with (next to 40,000 mappings); the budget's logic is the same on every runtime" : false,
}), () => {
  // The budget refuses while WebAssembly memories fill the room; they are
  // dropped and collected, and a retry must then get the room. Before, after
  // a refusal the budget read /proc again only once one of memmap's own
  // ranges was given back (budget.cc: g_stuck, g_freed): a retry loop with a
  // back-off was refused for as long as it tried. Now a forced collection
  // at a refusal, or the user's own, is followed by a reading.
  const r = run("refusal-not-forever");
  assertHealthy(r);
  assert.match(r.stdout, /refused ENOMEM/, ended(r));
  // V8 gives the memories' mappings back at a collection (even the forced
  // one at the first refusal), so the loop may go on to memmap's own line
  // before it is refused; either way, once there is room again, the retry
  // must get it (before: refused for as long as it tried).
  assert.match(r.stdout, /mapped true/, ended(r));
});

test("a file that shrank and grew back under a write mapping: its lost writes are ERR_MEMMAP_TRUNCATED, not EIO", ONLY, () => {
  // The guard replaced everything past the file's end when it shrank; the
  // file then grew back (another writer). Writes to the replaced pages never
  // reach it. Mapping::LostWrites tells a truncation from an I/O error by
  // the file's size *now*, so this truncation is reported as EIO, "pages
  // ... could not be stored" (docs/api.md: ERR_MEMMAP_TRUNCATED when the
  // file shrank).
  const t = tempDir();
  const p = t.file("regrow.bin");
  const r = run("shrank-and-grew", { path: p });
  assertHealthy(r);
  assert.match(r.stdout, /read 0 faulted true/, ended(r));
  assert.match(r.stdout, /flush: ERR_MEMMAP_TRUNCATED unmap: ERR_MEMMAP_TRUNCATED/, ended(r));
});

test("mappings of one descriptor that the kernel merges, then truncated: the guard's replacements stay within the budget, never SIGBUS", ONLY, () => {
  // map(fd) duplicates the caller's descriptor: every range maps one open
  // file, and ranges of consecutive offsets side by side merge into one
  // kernel mapping, which replacing part of one splits in three. Such
  // ranges keep room in the budget for that (kMergeReserve). Before:
  // advice ran the budget to the line, and the truncation's replacements
  // took the process to the kernel's limit (SIGBUS, found by a review).
  const t = tempDir();
  const p = t.file("merged.bin", Buffer.alloc(12_000 * 4096, 1));
  const r = run("merged-descriptor", { path: p, addon: addonPath });
  assertHealthy(r);
  assert.match(r.stdout, /advise ENOMEM sum 0 faulted true/, ended(r));
  const readings = Number(/readings (\d+)/.exec(r.stdout)?.[1]);
  assert.ok(readings < 100, `the budget read /proc/self/maps ${readings} times for 16,500 calls\n${ended(r)}`);
  const count = Number(/mappings (\d+)/.exec(r.stdout)?.[1]);
  assert.ok(count < maxMapCount - 1024, `the child reached ${count} of ${maxMapCount} mappings\n${ended(r)}`);
});

test("waitAsync() on thousands of words at the line: each waiter thread's stack is counted, a clean ENOMEM, no V8 fatal OOM", ONLY, () => {
  // Each word waited on gets a waiter thread, whose stack and guard page are
  // two kernel mappings. Before, they were not counted: 4,200 waits at the
  // line took the process to the kernel's limit, and V8 died in its next
  // collection (found by a review).
  const r = run("waiters-at-the-line");
  assertHealthy(r);
  assert.match(r.stdout, /refused \[\["ENOMEM",\d+\]\]/, ended(r));
  const count = Number(/mappings (\d+)/.exec(r.stdout)?.[1]);
  assert.ok(count < maxMapCount - 1024, `the child reached ${count} of ${maxMapCount} mappings\n${ended(r)}`);
});
