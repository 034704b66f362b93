// The promise: no call sequence made from JavaScript crashes the process.
// Each dangerous thing is done in a child process; the test asserts how the
// child ended (exit code 0, no signal) and what it printed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ended, nativeOnly, runChild, tempDir, pattern, addonPath } from "./helpers.js";

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
  const r = runChild(`
    import { mapAnonymous } from "memmap";
    import { MessageChannel } from "node:worker_threads";
    const m = mapAnonymous(1 << 20);
    const b = m.view(4096, 64);
    b.fill(5);
    const outcomes = [];
    const received = [];
    const { port1, port2 } = new MessageChannel();
    const attempts = [
      ["post", () => port1.postMessage(b)],
      ["post+transfer", () => port1.postMessage(b, [b.buffer])],
      ["clone", () => received.push(structuredClone(b))],
      ["clone+transfer", () => received.push(structuredClone(b, { transfer: [b.buffer] }))],
    ];
    let posted = 0;
    for (const [name, fn] of attempts) {
      try { fn(); outcomes.push(name + ":ok"); if (name.startsWith("post")) posted++; }
      catch (e) { outcomes.push(name + ":" + e.name); if (e.name !== "DataCloneError") throw e; }
    }
    for (let i = 0; i < posted; i++) received.push(await new Promise((res) => port2.once("message", res)));
    port1.close();
    const moved = b.length === 0;
    console.log("outcomes:", outcomes.join(" "), "sender kept its view:", !moved);
    m.unmap();
    console.log("after unmap the sender's view has length", b.length);
    let sum = 0;
    for (const x of received) { x.fill(1); for (const v of x) sum += v; } // after unmap(): must not fault
    console.log("received", received.length, "copies, every byte readable:", sum === received.reduce((n, x) => n + x.length, 0));
  `);
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
  const r = runChild(`
    import * as memmap from "memmap";
    import { createRequire } from "node:module";
    // memmap/raw refuses to load where the native backend is not in use
    // (macOS without MEMMAP_BACKEND=native): then there is none of it to call.
    const raw = await import("memmap/raw").catch(() => ({}));
    const require = createRequire(import.meta.url);
    const addon = require(${JSON.stringify(addonPath)});
    const garbage = [undefined, null, true, false, 0, -0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 64, -(2 ** 63),
      0x7fffffff, 4096, "", "x", "/", "\\u0000", Symbol("s"), 10n, -1n, {}, [], [1], () => 1, new Proxy({}, {}),
      Buffer.alloc(4), new Uint8Array(0), new DataView(new ArrayBuffer(8)), new URL("file:///etc/passwd"),
      Object.create(null), { offset: -1 }, { length: 2 ** 60 }, { access: "write" }];
    let calls = 0, bad = [];
    // Seeded (mulberry32), so that a failure can be run again exactly.
    let seed = 20261123;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    function tryAll(name, fn, arity) {
      const pick = () => garbage[Math.floor(random() * garbage.length)];
      for (let i = 0; i < 300; i++) {
        const args = Array.from({ length: Math.floor(random() * (arity + 2)) }, pick);
        calls++;
        try { const r = fn(...args); if (r && typeof r.then === "function") r.catch(() => {}); }
        catch (e) { if (!(e instanceof Error)) bad.push(name + ": threw a non-Error"); }
      }
    }
    const m = memmap.mapAnonymous(65536);
    const f = memmap.map("package.json");
    for (const target of [m, f]) {
      for (const name of ["view", "flush", "flushSync", "scheduleFlush", "advise", "prefetch", "lock", "unlock", "residency"]) {
        tryAll(name, (...a) => target[name](...a), 3);
      }
    }
    tryAll("map", memmap.map, 2);
    tryAll("mapAnonymous", (...a) => { const x = memmap.mapAnonymous(...a); x.unmap(); }, 2);
    for (const name of ["mmap", "munmap", "msync", "madvise", "mlock", "munlock", "mincore"]) tryAll(name, raw[name], 5);
    // Every export, except mprotect through rawPages: it can make pages inaccessible (documented).
    for (const name of Object.keys(addon)) if (typeof addon[name] === "function" && name !== "rawPages") tryAll("addon." + name, addon[name], 11);
    for (const op of ["msync", "madvise", "mlock", "munlock", "mincore", "bogus"]) tryAll("addon.rawPages " + op, (...a) => addon.rawPages(op, ...a), 3);
    tryAll("addon.rawPages", (op, ...a) => addon.rawPages(op === "mprotect" ? "bogus" : op, ...a), 4);
    // Handles of one kind given where another is expected.
    const h = addon.mapAnonymous(4096, false, false, false, false, false);
    for (const name of ["slab", "msync", "advise", "lock", "residency", "resize", "unmap"]) {
      for (const args of [[h], [h, -1, 1], [h, 0, 2 ** 53], [h, 0, 4097, true], [{}, 0, 1], [Buffer.alloc(1), 0, 1]]) {
        calls++;
        try { addon[name](...args) } catch (e) { if (!(e instanceof Error)) bad.push(name) }
      }
    }
    m.unmap(); f.unmap();
    console.log("calls:", calls, "bad:", bad.length, bad.slice(0, 5).join(";"));
  `);
  assertClean(r, "bad: 0");
});

test("closing mapping.fd never makes memmap write, resize or close the file or socket that reuses the number", () => {
  const t = tempDir();
  const mine = t.file("mine.bin", Buffer.alloc(8192, 1));
  const other = t.file("other.bin", Buffer.from("someone else's file"));
  const r = runChild(`
    import { map } from "memmap";
    import { closeSync, openSync, fstatSync, readFileSync, writeSync } from "node:fs";
    import { createServer } from "node:net";
    const m = map(${JSON.stringify(mine)}, { access: "write" });
    const n = m.fd;
    closeSync(n);                                   // the user closes the mapping's descriptor
    const fd = openSync(${JSON.stringify(other)}, "r+");  // and the number is reused
    console.log("reused:", fd === n);
    console.log("fd now:", m.fd);
    m.buffer.fill(7, 0, 10);
    const errs = [];
    try { m.resize(16384); } catch (e) { errs.push("resize:" + e.code); }
    try { m.flushSync(); } catch (e) { errs.push("flush:" + e.code); }
    try { m.unmap(); } catch (e) { errs.push("unmap:" + e.code); }
    console.log("errors:", errs.join(" "));
    fstatSync(fd);                                  // still open: memmap did not close it
    writeSync(fd, Buffer.from("S"), 0, 1, 0);
    closeSync(fd);
    console.log("other file:", readFileSync(${JSON.stringify(other)}, "utf8"));
    // The same with a socket in the reused slot (closing it from under libuv aborts).
    const m2 = map(${JSON.stringify(mine)}, { access: "write" });
    closeSync(m2.fd);
    const server = createServer().listen(0, "127.0.0.1");
    await new Promise((res) => server.once("listening", res));
    try { m2.unmap(); } catch (e) { console.log("unmap of the second:", e.code); } // the portable backend cannot write back: EBADF
    await new Promise((res) => server.close(res));
    console.log("socket survived");
  `);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /other file: Someone else's file/, ended(r));
  assert.match(r.stdout, /socket survived/, ended(r));
  if (/reused: true/.test(r.stdout)) assert.match(r.stdout, /fd now: -1/, ended(r));
});
