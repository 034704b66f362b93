// An output whose regions are written by worker threads, where the runtime
// refuses external buffers (Electron 21+; the test addon plays it): the
// output's mapping falls back to a heap copy at its first slab, and commit
// must write back only the main thread's bytes, never its own copy of the
// regions over what the workers wrote. The same scenario on the portable
// backend (whose output is always the heap fallback) and, as the control,
// on the native backend with external buffers allowed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ended, portable, root, runChild, tempDir, testAddonPath, mountSmallTmpfs } from "./helpers.js";

// Not page-aligned, so that a region shares pages with the main thread's bytes.
const SIZE = 3 * 4096 + 123;
// Two regions for workers, one opened on this thread from a structured
// clone of its handle (openRegion takes the same path in any thread).
const WORKER_REGIONS = [
  { offset: 1000, length: 3000, seed: 11 },
  { offset: 6100, length: 2500, seed: 12 },
];
const LOCAL_REGION = { offset: 10_000, length: 1500, seed: 13 };

// The child: for each of atomic and in place, commit and commitSync (and
// abort in place), it writes the main thread's bytes outside the regions
// (some before the workers run, so that the output's heap copy is taken
// while the regions still hold the file's old bytes, and the rest after),
// lets the workers fill their regions, appends a tail, commits and compares
// every byte of the file. It prints whether the main thread and the workers
// met the refusal.
function childCode(refuse: boolean, dir: string): string {
  const memmapUrl = pathToFileURL(join(root, "dist", "index.js")).href;
  return `
    import assert from "node:assert/strict";
    import { readFileSync, writeFileSync } from "node:fs";
    import { createRequire } from "node:module";
    import { Worker } from "node:worker_threads";
    import { backend, createOutput, mapAnonymous, openRegion } from "memmap";
    const SIZE = ${SIZE};
    const WORKER_REGIONS = ${JSON.stringify(WORKER_REGIONS)};
    const LOCAL_REGION = ${JSON.stringify(LOCAL_REGION)};
    const REGIONS = [...WORKER_REGIONS, LOCAL_REGION];
    if (${refuse}) createRequire(import.meta.url)(${JSON.stringify(testAddonPath)}).setRefuseExternalForTest(true);

    const bytes = (length, seed) => {
      const b = Buffer.alloc(length);
      for (let i = 0; i < length; i++) b[i] = ((i * 31 + seed) & 0xff) | 1; // never 0: a lost byte shows
      return b;
    };
    // Whether this thread's mappings are heap copies: a part of a writable
    // one is then refused (ENOTSUP), where a native slab would be zero-copy.
    const copies = () => {
      const probe = mapAnonymous(4096);
      try {
        probe.arrayBuffer(0, 10);
        return false;
      } catch (e) {
        if (e.code !== "ENOTSUP") throw e;
        return true;
      } finally {
        probe.unmap();
      }
    };
    // The worker, a module file beside the outputs (run without the
    // child's --input-type, which applies to -e alone).
    const workerFile = ${JSON.stringify(dir)} + "/worker.mjs";
    writeFileSync(workerFile, \`
      import { parentPort, workerData } from "node:worker_threads";
      import { mapAnonymous, openRegion } from \${JSON.stringify(${JSON.stringify(memmapUrl)})};
      const probe = mapAnonymous(4096);
      let copies = false;
      try { probe.arrayBuffer(0, 10); } catch (e) { if (e.code !== "ENOTSUP") throw e; copies = true; }
      probe.unmap();
      const r = openRegion(workerData.handle);
      r.buffer.set(workerData.data);
      r.close();
      parentPort.postMessage(copies);
    \`);
    const fill = (handle, data) => new Promise((resolve, reject) => {
      const w = new Worker(workerFile, { workerData: { handle, data }, execArgv: [] });
      w.once("message", resolve);
      w.once("error", reject);
      w.once("exit", (c) => reject(new Error("worker exited with " + c + " before reporting")));
    });

    const workerCopies = [];
    const cases = [[true, "commit"], [true, "commitSync"], [false, "commit"], [false, "commitSync"], [false, "abort"]];
    for (const [atomic, how] of cases) {
      const label = (atomic ? "atomic" : "in place") + ", " + how;
      const path = ${JSON.stringify(dir)} + "/" + (atomic ? "a-" : "b-") + how + ".out";
      // In place over an existing file: the regions start as its old bytes.
      const old = Buffer.alloc(SIZE + 50, 0xee);
      if (!atomic) writeFileSync(path, old);
      const expected = bytes(SIZE, 1);
      for (const r of REGIONS) bytes(r.length, r.seed).copy(expected, r.offset);
      const tail = Buffer.from("the tail, appended");

      const out = createOutput(path, { size: SIZE, atomic });
      // The main thread's bytes outside the regions, some before the workers
      // run (the first slab: where refused, the heap copy is taken now)...
      const gaps = [];
      let at = 0;
      for (const r of [...REGIONS].sort((a, b) => a.offset - b.offset)) {
        gaps.push([at, r.offset]);
        at = r.offset + r.length;
      }
      gaps.push([at, SIZE]);
      for (const [from, to] of gaps.slice(0, 2)) out.write(from, expected.subarray(from, to));
      const handles = WORKER_REGIONS.map((r) => out.region(r.offset, r.length));
      const local = out.region(LOCAL_REGION.offset, LOCAL_REGION.length);
      workerCopies.push(...(await Promise.all(handles.map((h, i) => fill(h, bytes(WORKER_REGIONS[i].length, WORKER_REGIONS[i].seed))))));
      const r = openRegion(structuredClone(local));
      r.buffer.set(bytes(LOCAL_REGION.length, LOCAL_REGION.seed));
      r.close();
      // ... and the rest after.
      for (const [from, to] of gaps.slice(2)) out.view(from, to - from).set(expected.subarray(from, to));
      assert.equal(out.append(tail), SIZE);
      if (how === "commit") await out.commit();
      else if (how === "commitSync") out.commitSync();
      else out.abort();

      const got = readFileSync(path);
      // Aborted in place: the file keeps what was written, over its old bytes, at its old length.
      const want = how === "abort" ? Buffer.concat([expected, tail, old.subarray(SIZE + tail.length)]) : Buffer.concat([expected, tail]);
      assert.equal(got.length, want.length, label + ": the file's length");
      const wrong = got.findIndex((b, i) => b !== want[i]);
      const where = (i) => REGIONS.find((r) => i >= r.offset && i < r.offset + r.length) ?? "the main thread's bytes";
      assert.equal(wrong, -1, label + ": first wrong byte at " + wrong + " (in " + JSON.stringify(where(wrong)) + "): " + got[wrong] + ", not " + want[wrong]);
    }

    // A tail that grow() took into the region before its first slab: the
    // heap copy (where refused) reads it from the file.
    const grown = ${JSON.stringify(dir)} + "/grown.out";
    const g = createOutput(grown, { size: 100 });
    g.append("appended, then grown over");
    g.grow(200);
    g.write(0, "first slab after grow()");
    g.commitSync();
    assert.equal(readFileSync(grown, "latin1"), "first slab after grow()" + "\\0".repeat(77) + "appended, then grown over" + "\\0".repeat(75));

    console.log(JSON.stringify({ backend: backend.name, mainCopies: copies(), workerCopies: [...new Set(workerCopies)] }));
  `;
}

interface Report {
  backend: string;
  mainCopies: boolean;
  workerCopies: boolean[];
}

function run(refuse: boolean, env: Record<string, string>): Report {
  const t = tempDir();
  const r = runChild(childCode(refuse, t.dir), [], env);
  assert.equal(r.status, 0, ended(r));
  const last = r.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(last) as Report;
}

const nativeRun = portable ? "native backend only: the portable run covers the portable case" : false;

test("where external buffers are refused, a mapped output keeps what workers wrote into their regions (commit, and abort in place)", {
  skip: nativeRun || (!existsSync(testAddonPath) ? "needs the test build of the addon (npm run build:test-addon), which has the switch" : false),
}, () => {
  const report = run(true, { MEMMAP_TEST_ADDON: "1" });
  assert.deepEqual(report, { backend: "native", mainCopies: true, workerCopies: [true] }, "every thread met the refusal and took copies");
});

test("the control: a mapped output with external buffers allowed keeps what workers wrote (commit, and abort in place)", { skip: nativeRun }, () => {
  const report = run(false, {});
  assert.deepEqual(report, { backend: "native", mainCopies: false, workerCopies: [false] }, "no thread took copies");
});

test("on the portable backend, an output keeps what workers wrote into their regions (commit, and abort in place)", () => {
  const report = run(false, { MEMMAP_BACKEND: "portable" });
  assert.deepEqual(report, { backend: "portable", mainCopies: true, workerCopies: [true] });
});

test("where external buffers are refused, grow() past the free space is ENOSPC at once and changes nothing, as without a mapping", {
  skip: nativeRun || (!existsSync(testAddonPath) ? "needs the test build of the addon (npm run build:test-addon), which has the switch" : false),
}, (t) => {
  const tmp = tempDir();
  const why = mountSmallTmpfs(tmp.dir);
  if (why) {
    t.skip(`cannot mount a 1 MiB tmpfs here (${why})`);
    return;
  }
  try {
    const r = runChild(`
      import assert from "node:assert/strict";
      import { readFileSync, statSync } from "node:fs";
      import { createRequire } from "node:module";
      import { createOutput } from "memmap";
      createRequire(import.meta.url)(${JSON.stringify(testAddonPath)}).setRefuseExternalForTest(true);
      const out = createOutput(${JSON.stringify(join(tmp.dir, "big.out"))}, { size: 64 << 10 });
      assert.equal(out.mapped, true);
      out.write(0, "small enough"); // the first slab: the region is a heap copy from here
      assert.throws(() => out.grow(8 << 20), { code: "ENOSPC", path: out.writePath });
      assert.equal(out.size, 64 << 10);
      assert.equal(statSync(out.writePath).size, 64 << 10, "the file's size is as it was");
      out.commitSync();
      assert.equal(readFileSync(out.path).toString("utf8", 0, 12), "small enough");
      console.log("ENOSPC at grow()");
    `, [], { MEMMAP_TEST_ADDON: "1" });
    assert.equal(r.status, 0, ended(r));
    assert.match(r.stdout, /ENOSPC at grow\(\)/, ended(r));
  } finally {
    // Lazy, so that a failed assertion above (which may leave a file open)
    // is what the test reports.
    execFileSync("umount", ["-l", tmp.dir]);
  }
});
