// unmap(), views, closed mappings, resize and `using`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { map, mapAnonymous, pageSize } from "memmap";
import { ended, nativeOnly, pattern, root, runFixture, skipIf, tempDir, addonPath, testAddonPath } from "./helpers.js";

test("unmap() detaches the buffer, every view and every subarray", () => {
  const t = tempDir();
  const p = t.file("d", pattern(2 * pageSize));
  const m = map(p);
  const whole = m.buffer;
  const v = m.view(100, 50);
  const sub = whole.subarray(10, 20);
  const u8 = new Uint8Array(v.buffer, v.byteOffset, 5);
  assert.equal(m.unmap(), true);
  assert.equal(m.closed, true);
  assert.equal(m.byteLength, 0);
  for (const b of [whole, v, sub, u8]) {
    assert.equal(b.length, 0);
    assert.equal(b[0], undefined);
  }
  assert.throws(() => whole.readUInt32LE(0), RangeError);
  assert.equal(m.unmap(), false, "a second unmap() does nothing");
});

test("every method of a closed mapping throws ERR_MEMMAP_CLOSED", async () => {
  const m = mapAnonymous(pageSize);
  m.unmap();
  const calls: Array<() => unknown> = [
    () => m.buffer, () => m.view(0, 1), () => m.flushSync(), () => m.scheduleFlush(), () => m.advise("normal"),
    () => m.lock(), () => m.unlock(), () => m.residency(), () => m.resize(10),
  ];
  for (const call of calls) assert.throws(call, { code: "ERR_MEMMAP_CLOSED" });
  await assert.rejects(m.flush(), { code: "ERR_MEMMAP_CLOSED" });
  await assert.rejects(m.prefetch(), { code: "ERR_MEMMAP_CLOSED" });
  m[Symbol.dispose]();
});

test("`using` unmaps at the end of the block", () => {
  let b: Buffer;
  let kept: import("memmap").Mapping;
  {
    using m = mapAnonymous(pageSize);
    kept = m;
    b = m.buffer;
    b[0] = 1;
  }
  assert.equal(kept.closed, true);
  assert.equal(b.length, 0);
});

test("unmap() while a flush is running: the flush completes, the views are detached", async () => {
  const t = tempDir();
  const p = t.file("f", pattern(64 * pageSize));
  const m = map(p, { access: "write" });
  const b = m.buffer;
  b.write("pending", 0);
  const done = m.flush();
  m.unmap();
  assert.equal(b.length, 0);
  await done;
  assert.equal(readFileSync(p).toString("utf8", 0, 7), "pending");
});

test("resize() grows a write mapping and its file, keeps the bytes and detaches old views", () => {
  const t = tempDir();
  const p = t.file("r", pattern(pageSize));
  const m = map(p, { access: "write" });
  const old = m.buffer;
  m.resize(5 * pageSize + 3);
  assert.equal(old.length, 0, "views made before a resize are detached");
  assert.equal(m.byteLength, 5 * pageSize + 3);
  assert.equal(statSync(p).size, 5 * pageSize + 3);
  assert.ok(m.buffer.subarray(0, pageSize).equals(pattern(pageSize)));
  m.buffer[5 * pageSize + 2] = 9;
  m.flushSync();
  assert.equal(readFileSync(p)[5 * pageSize + 2], 9);
  m.resize(10);
  assert.equal(m.buffer.length, 10);
  m.resize(0);
  assert.equal(m.buffer.length, 0);
  m.resize(pageSize);
  assert.ok(m.buffer.equals(pattern(pageSize)));
  m.unmap();
});

test("resize() of a read mapping cannot pass the end of the file", () => {
  const t = tempDir();
  const p = t.file("r2", pattern(3 * pageSize));
  const m = map(p, { offset: 5, length: 100 });
  m.resize(3 * pageSize - 5);
  assert.ok(m.buffer.equals(pattern(3 * pageSize).subarray(5)));
  assert.throws(() => m.resize(3 * pageSize), { code: "ERR_OUT_OF_RANGE" });
  assert.equal(m.byteLength, 3 * pageSize - 5, "a refused resize changes nothing");
  m.unmap();
});

test("resize() of an anonymous mapping keeps its bytes; refused while a flush runs", async () => {
  const m = mapAnonymous(pageSize);
  m.buffer.write("anon", 0);
  m.resize(4 * pageSize);
  assert.equal(m.buffer.toString("utf8", 0, 4), "anon");
  const f = m.flush();
  assert.throws(() => m.resize(pageSize), { code: "ERR_MEMMAP_BUSY", message: /flush\(\)/ });
  await f;
  m.resize(pageSize);
  assert.equal(m.byteLength, pageSize);
  m.unmap();
});

test("view() checks its slab", () => {
  const m = mapAnonymous(pageSize);
  assert.equal(m.view(10).length, pageSize - 10);
  assert.throws(() => m.view(pageSize + 1), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => m.view(0, pageSize + 1), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => m.view(-1, 1), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => m.view("1" as never, 1), { code: "ERR_INVALID_ARG_TYPE" });
  m.unmap();
});

test("a mapping reports its cost to V8 as external memory while it is mapped (all of it for anonymous memory), so that dropped mappings are collected under pressure", nativeOnly("the portable backend's memory is an ArrayBuffer, which V8 counts itself"), () => {
  const addon = createRequire(import.meta.url)(addonPath) as { stats(): { reported: number } };
  const MiB = 1 << 20;
  const before = addon.stats().reported;
  const m = mapAnonymous(256 * MiB);
  assert.equal(addon.stats().reported - before, 256 * MiB);
  m.resize(512 * MiB);
  assert.equal(addon.stats().reported - before, 512 * MiB, "and follows resize()");
  const t = tempDir();
  const f = map(t.file("f.bin", Buffer.alloc(1 << 20)));
  assert.ok(addon.stats().reported - before > 512 * MiB, "a file mapping reports part of its cost");
  f.unmap();
  m.unmap();
  assert.equal(addon.stats().reported, before, "and nothing once unmapped");
});

// The addon is built without exceptions: a plain `new` that fails ends the
// process (SIGABRT). The test build's failAllocationsForTest(n) makes the
// next n of memmap's own records unavailable, as when memory or the
// kernel's count of mappings has run out.
test("when memmap's own records cannot be had, the call fails with a clean ENOMEM, changes nothing, and the process goes on", skipIf(
  nativeOnly("the records are the addon's"),
  { skip: process.versions["bun"] ? "relies on node --expose-gc" : false },
), () => {
  const t = tempDir();
  const p = t.file("f.bin", pattern(4 * pageSize));
  const r = runFixture("records-unavailable.mjs", { addon: testAddonPath, path: p, page: pageSize, enomem: process.platform === "win32" ? 4057 : 12 }, ["--expose-gc"], { MEMMAP_TEST_ADDON: "1" });
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /clean; ranges left: 0/, ended(r));
});
