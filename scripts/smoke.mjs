#!/usr/bin/env node
// A smoke test that any runtime runs as a plain script (Deno has no node:test
// runner for this suite): map, read, write, flush, unmap, and check that
// every Buffer was detached; views by the million; a post with a transfer
// list, then unmap(); waitAsync; memory moved by transfer() from a dropped
// mapping; an OutputFile. Ends with one "N passed, N failed" line.
//   node scripts/smoke.mjs | bun scripts/smoke.mjs | deno run -A scripts/smoke.mjs
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backend, createOutput, map, mapAnonymous } from "memmap";
import { mappingInternals } from "../dist/mapping.js"; // not exported from the package: for checks like this one

const dir = mkdtempSync(join(tmpdir(), "memmap-smoke-"));
let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}
function assert(cond, what) {
  if (!cond) throw new Error(what);
}

const runtime = globalThis.Deno ? `deno ${globalThis.Deno.version.deno}` : globalThis.Bun ? `bun ${globalThis.Bun.version}` : `node ${process.version}`;
console.log(`# ${runtime}, backend ${backend.name} (${backend.reason})`);

await check("map a file, read it, unmap: every Buffer is detached", () => {
  const p = join(dir, "a.bin");
  writeFileSync(p, Buffer.from("hello, mapped world"));
  const m = map(p);
  const whole = m.buffer;
  const v = m.view(7, 6);
  const sub = whole.subarray(0, 5);
  assert(whole.toString() === "hello, mapped world", `read ${JSON.stringify(whole.toString())}`);
  assert(v.toString() === "mapped", `view read ${JSON.stringify(v.toString())}`);
  assert(m.unmap() === true, "unmap() returned true");
  assert(whole.length === 0 && v.length === 0 && sub.length === 0, "detached after unmap()");
  assert(m.unmap() === false, "a second unmap() does nothing");
});

await check("a write mapping reaches the file at flush", async () => {
  const p = join(dir, "w.bin");
  const m = map(p, { access: "write", size: 4096 });
  m.view(100, 5).write("abcde");
  await m.flush();
  m.unmap();
  assert(readFileSync(p).toString("latin1", 100, 105) === "abcde", "the file has the bytes");
});

await check("a million views of one mapping make few slabs", () => {
  const m = mapAnonymous(16 << 20);
  let s = 0;
  for (let i = 0; i < 1_000_000; i++) s += m.view((i * 4099) % ((16 << 20) - 64), 64).length;
  assert(s === 64_000_000, "every view had 64 bytes");
  const made = mappingInternals.slabCount(m);
  assert(made >= 1 && made <= 64, `${made} slabs`);
  m.unmap();
});

await check("a view posted with a transfer list, then unmap(): copied, refused, or moved and reading zeros", async () => {
  const m = mapAnonymous(1 << 20);
  const v = m.view(4096, 64);
  v.fill(3);
  const { port1, port2 } = new MessageChannel();
  const got = new Promise((res) => { port2.onmessage = (e) => res(e.data); });
  let received = null;
  try {
    port1.postMessage(v, [v.buffer]);
    received = await got;
  } catch (e) {
    assert(e.name === "DataCloneError", `refused with ${e.name}`);
  }
  const moved = v.length === 0;
  port1.close();
  port2.close();
  m.unmap();
  if (received) {
    let sum = 0;
    for (const b of received) sum += b; // must not fault, whatever the runtime did
    // A copy keeps the bytes; memory that was moved (Deno) is quarantined by
    // unmap(): it reads zeros.
    assert(sum === 3 * 64 || (moved && sum === 0), `read ${sum}`);
  }
});

await check("waitAsync: not-equal at once, timed out, woken by notify, rejected by unmap", async () => {
  if (backend.name !== "native") return; // the portable backend has no shared memory
  const m = mapAnonymous(4096, { shared: true });
  const a = new Int32Array(m.buffer.buffer, m.buffer.byteOffset, 4);
  assert((await m.waitAsync(0, 1)) === "not-equal", "not-equal");
  assert((await m.waitAsync(0, 0, 20, { persistent: true })) === "timed-out", "timed-out");
  const woken = m.waitAsync(1, 0);
  Atomics.store(a, 1, 1);
  m.notify(1);
  assert((await woken) === "ok", "woken");
  const pending = m.waitAsync(2, 0, Infinity, { persistent: true });
  m.unmap();
  let code = null;
  try { await pending; } catch (e) { code = e.code; }
  assert(code === "ERR_MEMMAP_CLOSED", `unmap() rejected it with ${code}`);
});

await check("memory moved by transfer(), the mapping dropped: the moved copy reads the file's bytes or zeros", async () => {
  if (typeof ArrayBuffer.prototype.transfer !== "function" || backend.name !== "native") return;
  const p = join(dir, "moved.bin");
  writeFileSync(p, Buffer.alloc(1 << 20, 0x41));
  const moved = [];
  for (let i = 0; i < 8; i++) moved.push(map(p).view(8192, 64).buffer.transfer());
  for (let i = 0; i < 50; i++) { new ArrayBuffer(1 << 20); await new Promise((res) => setTimeout(res, 1)); } // give the collector a chance
  const fresh = [];
  for (let i = 0; i < 16; i++) { const f = mapAnonymous(1 << 20); f.buffer.fill(0x55); fresh.push(f); }
  for (const ab of moved) for (const b of new Uint8Array(ab)) assert(b === 0x41 || b === 0, `read ${b}`);
  for (const ab of moved) new Uint8Array(ab).fill(7);
  assert(fresh.every((f) => f.buffer.every((b) => b === 0x55)), "no other mapping was written");
  for (const f of fresh) f.unmap();
});

await check("mappings a worker made and kept let their files go when the worker ends", async () => {
  if (backend.name !== "native") return;
  const { Worker } = await import("node:worker_threads");
  const { readdirSync } = await import("node:fs");
  const fds = () => readdirSync("/proc/self/fd").length;
  const p = join(dir, "kept.bin");
  writeFileSync(p, Buffer.alloc(1 << 16, 1));
  const url = new URL("../dist/index.js", import.meta.url).href;
  const run = () => new Promise((res, rej) => {
    // Dynamic imports only: Deno runs an eval worker as a classic script.
    const w = new Worker(`
      import("node:worker_threads").then(async ({ parentPort, workerData }) => {
        const { map } = await import(workerData.url);
        globalThis.kept = [];
        for (let i = 0; i < 8; i++) globalThis.kept.push(map(workerData.p));
        parentPort.postMessage("mapped");
      });
    `, { eval: true, workerData: { url, p } });
    w.once("error", rej);
    w.once("message", () => w.terminate().then(res, rej));
  });
  await run(); // the first worker's own descriptors (runtime start-up) are not the point
  const before = fds();
  for (let i = 0; i < 10; i++) await run();
  const after = fds();
  assert(after - before < 40, `80 mappings in ended workers still hold ${after - before} descriptors`);
});

await check("OutputFile: write() per record, commit", async () => {
  const p = join(dir, "out.bin");
  const out = createOutput(p, { size: 100 * 10_000 });
  const rec = Buffer.alloc(100, 7);
  for (let i = 0; i < 10_000; i++) out.write(i * 100, rec);
  out.append("tail");
  await out.commit();
  const data = readFileSync(p);
  assert(data.length === 100 * 10_000 + 4 && data[999_999] === 7 && data.toString("latin1", 1_000_000) === "tail", "the file is complete");
});

rmSync(dir, { recursive: true, force: true });
console.log(`smoke: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
