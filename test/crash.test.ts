// The promise: no call sequence made from JavaScript crashes the process.
// Each dangerous thing is done in a child process; the test asserts how the
// child ended (exit code 0, no signal) and what it printed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ended, nativeOnly, runChild, runFixture, tempDir, pattern, addonPath } from "./helpers.js";

function assertClean(r: ReturnType<typeof runChild>, expected: string): void {
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.ok(r.stdout.includes(expected), ended(r));
}

test("a write into a read mapping does not kill the process and does not reach the file", () => {
  const t = tempDir();
  const p = t.file("ro", pattern(8192));
  const r = runChild(`
    import { map } from "memmap";
    import { readFileSync } from "node:fs";
    const m = map(${JSON.stringify(p)});
    m.buffer.fill(0);
    m.buffer.writeUInt32LE(0xdeadbeef, 4000);
    m.flushSync();
    m.unmap();
    console.log(readFileSync(${JSON.stringify(p)})[4000] === ${pattern(8192)[4000]} ? "file unchanged" : "FILE CHANGED");
  `);
  assertClean(r, "file unchanged");
});

test("touching a buffer and a subarray after unmap() is safe", () => {
  const r = runChild(`
    import { map, mapAnonymous } from "memmap";
    const m = mapAnonymous(1 << 20);
    const b = m.buffer, s = b.subarray(100, 200), v = m.view(4096, 4096);
    m.unmap();
    let reads = 0, typeErrors = 0;
    const attempt = (fn) => { try { fn() } catch (e) { if (e instanceof TypeError || e instanceof RangeError) typeErrors++; else throw e } };
    for (const x of [b, s, v]) {
      x[0] = 1;
      if (x[0] === undefined && x.length === 0) reads++;
      attempt(() => x.fill(7));
      attempt(() => x.readUInt8(0));
      attempt(() => x.set([1, 2, 3]));
      attempt(() => new DataView(x.buffer).getUint8(0));
    }
    attempt(() => b.copy(Buffer.alloc(10)));
    attempt(() => b.toString());
    attempt(() => Buffer.concat([b, s]));
    console.log("reads undefined:", reads, "errors:", typeErrors);
  `);
  assertClean(r, "reads undefined: 3");
});

test("unmap() twice, and every method after it, throw or return, never crash", () => {
  const r = runChild(`
    import { mapAnonymous } from "memmap";
    const m = mapAnonymous(8192);
    m.unmap(); m.unmap(); m[Symbol.dispose]();
    let codes = new Set();
    for (const name of ["view", "flushSync", "scheduleFlush", "advise", "lock", "unlock", "residency", "resize"]) {
      try { m[name](0, 1) } catch (e) { codes.add(e.code) }
    }
    try { m.buffer } catch (e) { codes.add(e.code) }
    await m.flush().catch((e) => codes.add(e.code));
    await m.prefetch().catch((e) => codes.add(e.code));
    console.log([...codes].join(","));
  `);
  assertClean(r, "ERR_MEMMAP_CLOSED");
  assert.equal(r.stdout.trim(), "ERR_MEMMAP_CLOSED");
});

test("a mapped Buffer posted or cloned, with or without a transfer list, is copied or refused, never moved", nativeOnly("in Node 20 a transfer is JavaScript's only way to detach, so the portable backend cannot refuse one; a write mapping whose memory was moved reports ERR_MEMMAP_TRANSFERRED (portable.test.ts)"), () => {
  // Runtimes differ (docs/safety.md): Node 20 copies a transferred external
  // ArrayBuffer, Node 22+ and Bun throw DataCloneError, Deno moves it and
  // memmap keeps the range mapped until the receiver lets it go. Whatever
  // the runtime did, no receiver may reach the range after unmap().
  const r = runFixture("post-mapped-view.mjs");
  assertClean(r, "every byte readable: true");
  assert.match(r.stdout, /post:ok/, "a plain post copies on every runtime");
  assert.match(r.stdout, /clone:ok/, "a plain structuredClone copies on every runtime");
  assert.match(r.stdout, /after unmap the sender's view has length 0/, ended(r));
});

test("posting a 64-byte view of a 1 GiB mapping copies at most its slab (512 KiB), not the mapping", nativeOnly("the portable backend's mapping is one heap ArrayBuffer, which a post copies whole (docs/backends.md)"), () => {
  const r = runChild(`
    import { mapAnonymous } from "memmap";
    const m = mapAnonymous(1024 ** 3);
    for (const at of [0, 123456789, 1024 ** 3 - 64]) {
      const v = m.view(at, 64);
      const c = structuredClone(v);
      console.log("copied", c.buffer.byteLength, "bytes for a view at", at, "equal:", Buffer.from(c.buffer, c.byteOffset, c.length).equals(v));
    }
    m.unmap();
  `);
  assertClean(r, "copied");
  const copied = [...r.stdout.matchAll(/copied (\d+) bytes .* equal: true/g)].map((x) => Number(x[1]));
  assert.equal(copied.length, 3, ended(r));
  for (const n of copied) assert.ok(n <= 512 * 1024, `a 64-byte view copied ${n} bytes`);
});

test("garbage arguments of every type to every function never abort", () => {
  const r = runFixture("garbage-arguments.mjs", { addon: addonPath });
  assertClean(r, "bad: 0");
});

test("closing mapping.fd never makes memmap write, resize or close the file or socket that reuses the number", () => {
  const t = tempDir();
  const mine = t.file("mine.bin", Buffer.alloc(8192, 1));
  const other = t.file("other.bin", Buffer.from("someone else's file"));
  const r = runFixture("reused-fd.mjs", { mine, other });
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /other file: Someone else's file/, ended(r));
  assert.match(r.stdout, /socket survived/, ended(r));
  if (/reused: true/.test(r.stdout)) assert.match(r.stdout, /fd now: -1/, ended(r));
});
