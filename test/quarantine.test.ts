// Native code holding the memory (issue 11, item 1): Node's thread pool may
// still be using a mapped Buffer when unmap() runs. Detaching stops
// JavaScript, not a job that already has the pointer: the range is
// quarantined (inert memory at the same addresses) until nothing can reach it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { darwinRules, ended, pattern, portable, runFixture, tempDir, addonPath, testAddonPath, skipIf, notOnWindows, onWindows } from "./helpers.js";

// Runs test/fixtures/<name> with --expose-gc; it must end cleanly.
function survives(name: string, params: Record<string, unknown>, env: Record<string, string> = {}) {
  const r = runFixture(name, params, ["--expose-gc"], env);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  return r;
}

// zlib is left out: Node 20's zlib asserts (SIGABRT) when an input Buffer is
// detached between two of its chunks, with or without memmap (docs/safety.md).
test("crypto.randomFill still running when unmap() comes: no crash, the file untouched", () => {
  const t = tempDir();
  const p = t.file("data.bin", pattern(8 << 20));
  const r = survives("quarantine-randomfill-unmap.mjs", { path: p });
  assert.match(r.stdout, /all 40 jobs ended/, ended(r));
  // A write mapping's unmap() lets the file go at once: the job's late
  // writes land in the quarantine, never in the file (unless the job won the
  // race and wrote before unmap(), which leaves random bytes at the start).
  const after = readFileSync(p);
  assert.ok(after.subarray(1 << 20).equals(pattern(8 << 20).subarray(1 << 20)), "nothing past the first MiB changed");
});

test("an fs.read() pending into a mapping that was unmapped lands nowhere: not in the next mapping at that address, not in the file", () => {
  const t = tempDir();
  const fifo = t.file("pipe");
  if (spawnSync("mkfifo", [fifo]).status !== 0) {
    return;
  }
  const fileA = t.file("a.bin", Buffer.alloc(1 << 16, 0x41));
  const fileB = t.file("b.bin", Buffer.alloc(1 << 16, 0x42));
  const r = survives("quarantine-pending-read.mjs", { fifo, fileA, fileB });
  assert.match(r.stdout, /m2 clean: true f2 clean: true/, ended(r));
  assert.ok(readFileSync(fileA).equals(Buffer.alloc(1 << 16, 0x41)), "fileA: the late read did not reach it after unmap()");
  assert.ok(readFileSync(fileB).equals(Buffer.alloc(1 << 16, 0x42)), "fileB untouched");
});

test("a quarantined range is given back once its slabs are collected", { skip: portable ? "native backend only: counts the addon's mappings" : process.versions["bun"] ? "relies on node --expose-gc" : false }, () => {
  const r = survives("quarantine-collected.mjs", { addon: addonPath });
  assert.match(r.stdout, /held while reachable: 100 after collection: 0/, ended(r));
});

test("crypto.randomFill still running when resize() moves a shared mapping: no crash, the bytes kept", { skip: portable ? "the portable backend's resize() copies into a new heap Buffer; the old one is kept while reachable (lib/detach.ts)" : onWindows ? "not on Windows: shared memory is a section of fixed size there, resize() is ENOTSUP (anonymous.test.ts)" : false }, () => {
  const t = tempDir();
  const p = t.file("grow.bin", pattern(8 << 20));
  const r = survives("quarantine-resize-shared.mjs", { path: p, sharedTo: darwinRules ? 4 << 20 : 12 << 20 });
  assert.match(r.stdout, /all 40 jobs ended/, ended(r));
  assert.equal(readFileSync(p)[0], 0x21, "writes through the resized mapping reached the file");
});

test("crypto.randomFill still running when resize() moves or shrinks a private mapping: no crash, the mapping's own bytes kept, the file untouched", { skip: portable ? "the portable backend's resize() copies into a new heap Buffer; the old one is kept while reachable (lib/detach.ts)" : false }, () => {
  const t = tempDir();
  const p = t.file("private.bin", pattern(8 << 20));
  const r = survives("quarantine-resize-private.mjs", { path: p });
  assert.match(r.stdout, /checked 24 all 24 jobs ended/, ended(r));
  assert.ok(readFileSync(p).equals(pattern(8 << 20)), "a private mapping never writes the file");
});

test("resize() of a private mapping whose slabs are held copies only its own pages, not the file's", skipIf({ skip: portable ? "the portable backend holds a copy of the file anyway" : false }, notOnWindows("it reads /proc/self/status")), () => {
  const t = tempDir();
  const p = t.file("big.bin", pattern(256 << 20));
  const r = survives("quarantine-private-copy.mjs", { path: p, expected: pattern(256 << 20)[1 << 20] });
  const grown = Number(/grew by (-?\d+) bytes/.exec(r.stdout)?.[1]);
  assert.ok(grown < 32 << 20, `resize() copied ${grown} bytes; at most the 1 MiB written (plus noise) was expected\n${ended(r)}`);
});

// Windows replaces a view in two steps (UnmapViewOfFile, then VirtualAlloc
// at its address): another allocator of the process may take the addresses
// in between. The test build plays that allocator.
test("on Slabs, a quarantine whose addresses another allocator takes in between: no crash, the file let go, and memmap never unmaps or writes that memory", skipIf(
  { skip: portable ? "native backend only" : process.versions["bun"] ? "relies on node --expose-gc" : false },
  { skip: !onWindows ? "Windows only: Quarantine is one mmap(MAP_FIXED) on POSIX, with no such slab" : false },
), () => {
  const t = tempDir();
  const p = t.file("taken.bin", pattern(256 << 10));
  const r = survives("quarantine-taken.mjs", { path: p, addon: testAddonPath }, { MEMMAP_TEST_ADDON: "1" });
  assert.match(r.stdout, /live after collection: 0 taken memory intact: true/, ended(r));
});
