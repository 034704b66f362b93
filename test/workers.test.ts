// The addon is context-aware: the package loads and maps in several
// worker_threads at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ended, pattern, root, runFixture, tempDir, addonPath } from "./helpers.js";

// The children that start and end many workers run without V8's background
// tasks (concurrent compilation and GC): Node's NodePlatform::DrainTasks can
// deadlock at a worker's turn of the loop when such a task waits for a
// collection only that thread can run (nodejs/node#54918; seen here once, on
// the portable backend, so with no addon in the process: Node 20.20.2, both
// workers in DrainTasks, a compile task in AwaitCollectionBackground). The
// workers themselves still run at the same time, which is what these tests are
// about. Bun has no such flag.
const NO_BACKGROUND_TASKS = process.versions["bun"] ? [] : ["--single-threaded"];

test("two worker_threads map, read, write and drop mappings at the same time", async () => {
  const t = tempDir();
  const data = pattern(64 * 1024);
  const p = t.file("shared-file", data);
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    (async () => {
    const { map, mapAnonymous } = await import(${JSON.stringify(pathToFileURL(join(root, "dist", "index.js")).href)});
    let sum = 0;
    for (let i = 0; i < 2000; i++) {
      const m = map(workerData.path, { offset: i % 1000, length: 1000 });
      sum += m.buffer[0];
      if (i % 2) m.unmap();
      const a = mapAnonymous(8192);
      a.buffer.fill(workerData.id);
      sum += a.buffer[8191] - workerData.id;
    }
    const w = map(workerData.path, { access: "copy" });
    w.buffer.fill(workerData.id);
    parentPort.postMessage({ sum, first: w.buffer[0] });
    w.unmap();
    })();
  `;
  const run = (id: number) =>
    new Promise<{ sum: number; first: number }>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { path: p, id } });
      w.once("message", resolve);
      w.once("error", reject);
      w.once("exit", (c) => c !== 0 && reject(new Error(`worker exited with ${c}`)));
    });
  const [a, b] = await Promise.all([run(1), run(2)]);
  let expected = 0;
  for (let i = 0; i < 2000; i++) expected += data[i % 1000]!;
  assert.equal(a.sum, expected);
  assert.equal(b.sum, expected);
  assert.equal(a.first, 1);
  assert.equal(b.first, 2);
});

test("workers that exit or are terminated with live mappings, views and running flushes end cleanly", () => {
  const r = runFixture("worker-churn.mjs", { url: pathToFileURL(join(root, "dist", "index.js")).href, addon: addonPath }, NO_BACKGROUND_TASKS);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /all workers ended; ranges still mapped: 0\n/, ended(r));
});

// Windows replaces a view in two steps (unmap, then memory reserved at its
// address), under the platform's range lock; every range memmap makes is
// made under that lock too, so that another thread's new mapping can never
// land in the addresses in between (it did: reads of the wrong mapping's
// bytes, and 0xC0000005 when the first owner later unmapped them).
test("workers quarantining and mapping at the same time: every read sees its own mapping's bytes, and nothing crashes", () => {
  const t = tempDir();
  // Each page says which it is, at its start and at its end: a view that
  // shows another range's bytes (of this file or any other) cannot pass.
  const data = Buffer.alloc(1 << 20);
  for (let page = 0; page < data.length / 4096; page++) {
    data.writeUInt32LE(page, page * 4096);
    data.writeUInt32LE(page ^ 0x5a5a5a5a, page * 4096 + 4092);
  }
  const p = t.file("race.bin", data);
  const r = runFixture("worker-race.mjs", { url: pathToFileURL(join(root, "dist", "index.js")).href, file: p, pages: data.length / 4096 }, NO_BACKGROUND_TASKS);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /wrong reads: 0 0\n/, ended(r));
});
