// resize() in a loop (issue 22): its cost must not grow with the number of
// resizes made before it, even in a loop that never yields (where the
// slabs it detached cannot be freed yet: their memory's finalizer comes on
// a later turn of the event loop).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ended, pattern, portable, runFixture, tempDir, testAddonPath } from "./helpers.js";

const RESIZES = 20_000;

// A child on the test build (whose slabsWalkedForTest() counts the slabs
// DetachAll and resize() visited) resizes one mapping RESIZES times in one
// synchronous loop, taking m.buffer or a view() before each resize and
// dropping it, then yields and collects; it prints what it saw.
function loop(kind: "anonymous" | "write", file: string): {
  walked: number; live: number; liveAfter: number; slabsAfter: number; healthy: boolean;
} {
  const r = runFixture("resize-loop.mjs", { kind, path: file, resizes: RESIZES, addon: testAddonPath }, ["--expose-gc"], { MEMMAP_TEST_ADDON: "1" });
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  return JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as ReturnType<typeof loop>;
}

for (const kind of ["anonymous", "write"] as const) {
  test(`${RESIZES.toLocaleString("en")} resize() calls of a${kind === "anonymous" ? "n anonymous" : ' "write" file'} mapping in one synchronous loop visit a bounded number of slabs each, and the ranges go back once it yields`, {
    skip: portable ? "native backend only: counts the addon's slabs (the portable backend has none to walk)" : process.versions["bun"] ? "relies on node --expose-gc" : false,
  }, () => {
    const t = tempDir();
    const file = t.file("grow.bin", pattern(16 * 4096));
    const out = loop(kind, file);
    assert.ok(out.healthy, `the mapping works after the loop: ${JSON.stringify(out)}`);
    // Each slab is visited at most twice: detached once, and handed to
    // the range it holds once. The old list kept every slab not yet freed,
    // so the n-th resize walked n of them: about RESIZES² / 2 in all.
    assert.ok(out.walked <= 2 * RESIZES, `slabs walked in ${RESIZES} resizes: ${out.walked} (at most ${2 * RESIZES})`);
    assert.ok(out.liveAfter <= 1, `ranges still mapped once the loop yielded and garbage was collected: ${out.liveAfter} (the mapping's own: 1)`);
    assert.ok(out.slabsAfter <= 1, `slab records left: ${out.slabsAfter}`);
  });
}
