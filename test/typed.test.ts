// Typed arrays over mappings: m.typed(), mapTyped() (numpy.memmap), and m.chunks().
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { map, mapAnonymous, mapTyped } from "memmap";
import { ended, nativeOnly, portable, root, runFixture, tempDir, addonPath, notOnWindows, skipIf } from "./helpers.js";

const CONSTRUCTORS = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
] as const;

test("typed() gives every TypedArray kind over the file's bytes, zero-copy, at any offset and across slabs", () => {
  const t = tempDir();
  const values = Float64Array.from({ length: 1 << 19 }, (_, i) => i * 0.5 - 7); // 4 MiB: many slabs
  const p = t.file("f64.bin", new Uint8Array(values.buffer));
  using m = map(p);
  const all = m.typed(Float64Array, 0);
  assert.equal(all.length, values.length);
  assert.deepEqual(all.subarray(0, 5), values.subarray(0, 5));
  // Ranges that start in one slab and end in another, at every element size.
  for (const Ctor of CONSTRUCTORS) {
    const size = Ctor.BYTES_PER_ELEMENT;
    for (const at of [0, 8, 256 * 1024 - 8, 300 * 1024 + 8, 3 << 20]) {
      const count = Math.floor((64 * 1024) / size);
      const a = m.typed(Ctor, at, count);
      assert.ok(a instanceof Ctor, Ctor.name);
      assert.equal(a.length, count);
      const expected = new Ctor(values.buffer, at, count);
      assert.deepEqual(a, expected, `${Ctor.name} at ${at}`);
    }
  }
  // BigInt kinds read the same bits.
  assert.equal(m.typed(BigInt64Array, 16, 1)[0], new BigInt64Array(values.buffer, 16, 1)[0]);
});

test("typed() over a write mapping writes the file; detached by unmap() and resize()", async () => {
  const t = tempDir();
  const p = t.file("w.bin", Buffer.alloc(4096));
  const m = map(p, { access: "write" });
  const a = m.typed(Int32Array, 1024, 10);
  a.set([1, 2, 3]);
  a[9] = -1;
  await m.flush();
  const file = new Int32Array(Uint8Array.from(readFileSync(p)).buffer);
  assert.deepEqual([...file.subarray(256, 266)], [1, 2, 3, 0, 0, 0, 0, 0, 0, -1]);
  const b = m.typed(Uint16Array, 0);
  m.resize(8192);
  assert.equal(b.length, 0, "detached by resize()");
  const c = m.typed(Float32Array, 0);
  assert.equal(c.length, 2048);
  m.unmap();
  assert.equal(c.length, 0, "detached by unmap()");
  assert.equal(a.length, 0);
  assert.throws(() => m.typed(Uint8Array, 0), { code: "ERR_MEMMAP_CLOSED" });
});

test("typed() says what is wrong: constructor, alignment (offset and element size), range, a length that does not divide", () => {
  const t = tempDir();
  const p = t.file("e.bin", Buffer.alloc(4099));
  using m = map(p);
  for (const bad of [Array, DataView, Buffer, Object, null, "Float32Array", 4]) {
    assert.throws(() => m.typed(bad as never, 0), { code: "ERR_INVALID_ARG_TYPE", message: /TypedArray constructor/ });
  }
  assert.throws(() => m.typed(Float64Array, 4, 1), { code: "ERR_INVALID_ARG_VALUE", message: /byteOffset.*not a multiple of 8 \(the element size of Float64Array\)/ });
  assert.throws(() => m.typed(Int32Array, 0), { code: "ERR_INVALID_ARG_VALUE", message: /4099 bytes from byteOffset 0 .* not a whole number of 4-byte elements/ });
  assert.equal(m.typed(Int32Array, 0, 1024).length, 1024, "with a length it is fine");
  assert.throws(() => m.typed(Int32Array, 0, 1025), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => m.typed(Int32Array, 4100), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => m.typed(Int32Array, -4), { code: "ERR_OUT_OF_RANGE" });
  assert.equal(m.typed(Uint8Array, 4099).length, 0, "an empty array at the end");
  using odd = map(p, { offset: 2 });
  assert.throws(() => odd.typed(Int32Array, 2, 1), { code: "ERR_INVALID_ARG_VALUE", message: /file offset 2, which is not a multiple of 4/ });
  assert.equal(odd.typed(Uint16Array, 0, 4).length, 4, "2-byte elements are aligned at offset 2");
});

test("Atomics work on a typed array of a shared anonymous mapping (aligned addresses)", { skip: process.env["MEMMAP_BACKEND"] === "portable" ? "the portable backend has no shared memory" : false }, () => {
  using m = mapAnonymous(1 << 20, { shared: true });
  const words = m.typed(Int32Array, 512 * 1024 + 4, 16);
  assert.equal(Atomics.add(words, 3, 5), 0);
  assert.equal(Atomics.compareExchange(words, 3, 5, 9), 5);
  assert.equal(m.view(512 * 1024 + 16, 4).readInt32LE(0), 9);
  const big = m.typed(BigInt64Array, 8, 2);
  assert.equal(Atomics.add(big, 1, 2n), 0n);
  assert.equal(big[1], 2n);
});

test("mapTyped() is numpy.memmap: size and length count elements, offset counts bytes", () => {
  const t = tempDir();
  const p = t.file("weights.f32");
  {
    const { mapping, array } = mapTyped(p, Float32Array, { access: "write", size: 4096 });
    assert.equal(statSync(p).size, 16 * 1024, "size: 4096 Float32 elements is a 16 KiB file");
    assert.equal(array.length, 4096);
    array[4095] = 1.5;
    mapping.unmap();
    assert.equal(array.length, 0);
  }
  assert.equal(new Float32Array(Uint8Array.from(readFileSync(p)).buffer)[4095], 1.5);
  const { mapping, array } = mapTyped(p, Float64Array, { offset: 8, length: 10 });
  assert.equal(array.length, 10);
  assert.equal(mapping.byteLength, 80);
  mapping.unmap();
  assert.throws(() => mapTyped(p, Float64Array, { offset: 4 }), { code: "ERR_INVALID_ARG_VALUE", message: /options\.offset.*multiple of 8/ });
  // Checked before anything is made: no file is created for a bad offset.
  const never = t.file("not-made.f64");
  assert.throws(() => mapTyped(never, Float64Array, { access: "write", size: 16, offset: 4 }), { code: "ERR_INVALID_ARG_VALUE" });
  assert.equal(existsSync(never), false, "a refused mapTyped() leaves no file behind");
  writeFileSync(p, Buffer.alloc(10));
  assert.throws(() => mapTyped(p, Float32Array), { code: "ERR_INVALID_ARG_VALUE", message: /options\.length.*must be given \(in elements\).*10 bytes/ });
  const two = mapTyped(p, Float32Array, { length: 2 });
  assert.equal(two.array.length, 2, "with options.length in elements it maps");
  two.mapping.unmap();
  assert.throws(() => mapTyped(p, Map as never), { code: "ERR_INVALID_ARG_TYPE" });
  assert.throws(() => mapTyped(p, Int8Array, { length: -1 }), { code: "ERR_OUT_OF_RANGE" });
});

test("chunks() covers the mapping, with and without overlap, one view at a time", () => {
  const t = tempDir();
  const bytes = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
  using m = map(t.file("c.bin", bytes));
  const plain = [...m.chunks(4096)];
  assert.deepEqual(plain.map((c) => c.length), [4096, 4096, 1808]);
  assert.ok(Buffer.concat(plain).equals(bytes));
  const overlapping = [...m.chunks(4096, 100)];
  assert.deepEqual(overlapping.map((c) => c.length), [4096, 4096, 2008]);
  assert.ok(overlapping[1]!.subarray(0, 100).equals(overlapping[0]!.subarray(3996)), "each starts 100 bytes before the last ended");
  assert.deepEqual([...m.chunks(10_000)].map((c) => c.length), [10_000]);
  assert.deepEqual([...m.chunks(1 << 20)].map((c) => c.length), [10_000]);
  assert.throws(() => m.chunks(0), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => m.chunks(100, 100), { code: "ERR_OUT_OF_RANGE" }, "an overlap must be shorter than a chunk");
  using empty = mapAnonymous(0);
  assert.deepEqual([...empty.chunks(10)], []);
  const it = m.chunks(4096);
  const first = it.next().value as Buffer;
  m.unmap();
  assert.equal(first.length, 0, "detached by unmap()");
  assert.throws(() => it.next(), { code: "ERR_MEMMAP_CLOSED" });
  // The length is read at each step: a resize() during the loop is followed.
  using a = mapAnonymous(8092);
  assert.deepEqual([...a.chunks(4096, 100)].map((c) => c.length), [4096, 4096], "no chunk that the last one already covered");
  const grown = a.chunks(4096);
  assert.equal(grown.next().value!.length, 4096);
  assert.equal(grown.next().value!.length, 3996);
  a.resize(12_288);
  const more = grown.next();
  assert.equal(more.done, false, "the mapping grew while the loop ran: it goes on");
  assert.equal(more.value!.length, 4096);
  assert.equal(grown.next().done, true);
  const shrunk = a.chunks(4096);
  shrunk.next();
  a.resize(4096);
  assert.equal(shrunk.next().done, true, "the mapping shrank to the end of the first chunk");
});

test("arrayBuffer(start, end) is exactly that range, zero-copy on the native backend, clamped like ArrayBuffer.prototype.slice", () => {
  const t = tempDir();
  const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 256));
  const p = t.file("ab.bin", bytes);
  const whole = new Uint8Array(bytes);
  for (const access of ["read", "write"] as const) {
    // On the portable backend a part of a "write" mapping would be a copy: refused (below).
    if (portable && access === "write") continue;
    using m = map(p, { access });
    for (const [start, end] of [[undefined, undefined], [0, 5000], [10, 20], [-100, undefined], [-100, -50], [4990, 10_000], [20, 10], [-10_000, 3], [1.9, 3.9], [Number.NaN, 2], [0, Infinity], [-Infinity, 2]] as const) {
      const ab = m.arrayBuffer(start, end);
      assert.ok(ab instanceof ArrayBuffer);
      assert.deepEqual(new Uint8Array(ab), whole.slice(start, end), `${access} [${start}, ${end})`);
    }
    assert.throws(() => m.arrayBuffer("1" as never), { code: "ERR_INVALID_ARG_TYPE" });
  }
  const m = map(p, { access: "write" });
  let ab: ArrayBuffer;
  if (portable) {
    assert.throws(() => m.arrayBuffer(100, 200), { code: "ENOTSUP", message: /writes to it would be lost/ },
      "a copy of part of a write mapping would lose its writes");
    ab = m.arrayBuffer(); // the whole: the backend's own memory, no copy
    new Uint8Array(ab)[100] = 0xee;
  } else {
    ab = m.arrayBuffer(100, 200);
    new Uint8Array(ab)[0] = 0xee; // zero-copy: a write lands in the mapping
  }
  assert.equal(m.view(100, 1)[0], 0xee);
  m.flushSync();
  assert.equal(readFileSync(p)[100], 0xee, "and reaches the file");
  const ab2 = m.arrayBuffer(0, 10_000);
  m.unmap();
  assert.equal(ab.byteLength, 0, "detached by unmap()");
  assert.equal(ab2.byteLength, 0);
  assert.throws(() => m.arrayBuffer(), { code: "ERR_MEMMAP_CLOSED" });
  if (portable) {
    // A read mapping's parts are copies there: detached with it all the same.
    const r = map(p);
    const part = r.arrayBuffer(1, 2);
    r.unmap();
    assert.equal(part.byteLength, 0);
  }
});

test("asyncBuffer() is the { byteLength, slice } shape readers such as hyparquet take", async () => {
  const t = tempDir();
  const p = t.file("a.bin", "0123456789");
  using m = map(p);
  const file = m.asyncBuffer();
  assert.equal(file.byteLength, 10);
  const piece = await file.slice(2, 5);
  assert.equal(Buffer.from(piece).toString(), "234");
  assert.equal(Buffer.from(await file.slice(7)).toString(), "789");
});

test("arrayBuffer() in a loop of 200,000 calls: its slabs are freed once dropped and the loop yields (at unmap() on Bun), and the process stays healthy", nativeOnly("native slab records"), () => {
  const t = tempDir();
  const p = t.file("loop.bin", Buffer.alloc(4 << 20, 1));
  const r = runFixture("typed-arraybuffer-loop.mjs", { path: p, addon: addonPath }, ["--expose-gc"]);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  const out = JSON.parse(r.stdout.trim().split("\\n").pop()!) as { sum: number; during: number; after: number; unmapped: number; live: number };
  assert.equal(out.sum, 200000);
  if (process.versions["bun"] === undefined) assert.ok(out.after < 1000, `slabs left after the loop yielded: ${out.after} (${out.during} during)`);
  assert.equal(out.unmapped, 0, "none once unmapped and collected");
  assert.equal(out.live, 0);
});

test("release(): views, typed arrays and ArrayBuffers stay correct through forced collections; the range goes when the last is dropped (/proc/self/maps)", notOnWindows("it reads /proc/self/maps"), () => {
  const t = tempDir();
  const values = Float64Array.from({ length: 1 << 19 }, (_, i) => i); // 4 MiB
  const p = t.file("released.bin", new Uint8Array(values.buffer));
  const r = runFixture("typed-release.mjs", { path: p }, ["--expose-gc"]);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  const n = values.length;
  assert.equal(out["closed"], "ERR_MEMMAP_CLOSED", "the Mapping itself is closed");
  assert.equal(out["sum"], (n * (n - 1)) / 2, "the typed array reads the file after release() and collections");
  assert.equal(out["tail"], n - 1);
  assert.equal(out["ab"], 1);
  if (!portable) {
    assert.ok((out["mappedWhileUsed"] as number) >= 1, "still mapped while the data is reachable");
    // Bun: not asserted. Its collector did not free the dropped ArrayBuffers
    // within these forced collections (seen with Bun 1.4.5), so the range
    // stays until it does; nothing is read after it goes.
    if (process.versions["bun"] === undefined) assert.equal(out["mappedAfterDrop"], 0, "unmapped once everything made from it was dropped");
  }
});

test("release() of a write mapping: the native backend keeps writes reaching the file; the portable one refuses it (ENOTSUP)", () => {
  const t = tempDir();
  const p = t.file("rw.bin", Buffer.alloc(4096));
  const m = map(p, { access: "write" });
  const v = m.view(0, 16);
  if (portable) {
    assert.throws(() => m.release(), { code: "ENOTSUP" });
    m.unmap();
    return;
  }
  assert.equal(m.release(), true);
  v.write("after release");
  assert.equal(readFileSync(p).toString("utf8", 0, 13), "after release", "a shared mapping: the page cache is the file");
});

test("release() of a write mapping whose file was truncated throws ERR_MEMMAP_TRUNCATED (released all the same); onFault is still told of faults through views that outlive release()", skipIf(nativeOnly("the portable backend refuses release() of write mappings, and nothing faults there"), notOnWindows("a mapped file cannot be truncated there (fs fails with UNKNOWN, ERROR_USER_MAPPED_FILE), so nothing faults")), () => {
  const t = tempDir();
  const PAGE = 4096;
  const p = t.file("shrunk.bin", Buffer.alloc(4 * PAGE));
  const q = t.file("shrunk-later.bin", Buffer.alloc(4 * PAGE));
  const r = runFixture("typed-release-truncated.mjs", { path: p, path2: q, page: PAGE }, ["--expose-gc"]);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    first: { code: string; faulted: boolean; closed: string; again: boolean; viewLength: number };
    told: Array<[number, number, boolean]>;
  };
  assert.equal(out.first.code, "ERR_MEMMAP_TRUNCATED", "release() does not hide lost writes");
  assert.equal(out.first.faulted, true);
  assert.equal(out.first.closed, "ERR_MEMMAP_CLOSED", "released all the same");
  assert.equal(out.first.again, false);
  assert.equal(out.first.viewLength, 16, "nothing detached");
  assert.deepEqual(out.told, [[PAGE, 3 * PAGE, true]], "onFault told after release(), with the range that is gone");
  assert.equal(statSync(q).size, PAGE);
});
