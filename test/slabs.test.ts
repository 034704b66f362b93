// Windows (lib/slabs.ts): views cost nothing native, and unmap()/resize()
// detach every Buffer over a slab.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { statSync } from "node:fs";
import { backend, createOutput, map, mapAnonymous } from "memmap";
import { ended, nativeOnly, root, runFixture, tempDir, pattern, portable, addonPath } from "./helpers.js";
import { mappingInternals } from "../dist/mapping.js";
import { outputInternals } from "../dist/output.js";

const MiB = 1024 * 1024;

// Tests of memory moved away by ArrayBuffer.prototype.transfer().
function movable(portableNote = ""): { skip: string | false } {
  return {
    skip: typeof ArrayBuffer.prototype.transfer !== "function" ? "this runtime has no ArrayBuffer.prototype.transfer"
      : portable ? `the portable backend's memory is a heap ArrayBuffer: a move takes it whole${portableNote}` : false,
  };
}
const require = createRequire(import.meta.url);
// The addon's own count of slab records (this thread), where it is in use.
function nativeSlabs(): number {
  if (backend.name !== "native") return 0;
  return (require(addonPath) as { stats(): { slabs: number } }).stats().slabs;
}

test("a million view() calls make a bounded number of slabs, and unrelated work still runs", () => {
  const before = nativeSlabs();
  const m = mapAnonymous(64 * MiB);
  let sum = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const v = m.view((i * 4099) % (64 * MiB - 100), 100);
    v[0] = i & 0xff;
    sum += v[0]!;
  }
  assert.ok(sum > 0);
  // 64 MiB at a 256 KiB stride: at most 256 slabs at level 0 (100-byte
  // views), whatever the number of views. The portable backend has one.
  const made = mappingInternals.slabCount(m);
  assert.ok(made <= 256, `${made} slabs for a million views`);
  assert.ok(made >= 1);
  if (!portable) assert.ok(nativeSlabs() - before <= 256, `native slab records: ${nativeSlabs() - before}`);
  m.unmap();
  // Unrelated work in the same process: fs calls and a collection.
  for (let i = 0; i < 20_000; i++) statSync(root);
  globalThis.gc?.();
  assert.ok(true);
});

test("a million OutputFile.write() calls make no view each", async () => {
  const t = tempDir();
  const before = nativeSlabs();
  const out = createOutput(t.file("out.bin"), { size: 100 * 1_000_000 });
  const record = pattern(100);
  for (let i = 0; i < 1_000_000; i++) out.write(i * 100, record);
  assert.ok(outputInternals.slabCount(out) <= 2 * (100 * 1_000_000) / (256 * 1024) + 1, `${outputInternals.slabCount(out)} slabs`);
  if (!portable && out.mapped) assert.ok(nativeSlabs() - before <= 800, `native slab records: ${nativeSlabs() - before}`);
  await out.commit();
  const st = statSync(t.file("out.bin"));
  assert.equal(st.size, 100 * 1_000_000);
});

test("views of every length come from slabs no longer than max(512 KiB, 4 x length)", nativeOnly("the portable backend's mapping is one heap ArrayBuffer"), () => {
  const m = mapAnonymous(256 * MiB);
  for (const length of [1, 64, 4096, 256 * 1024, 256 * 1024 + 1, 3 * MiB, 100 * MiB, 256 * MiB]) {
    for (const offset of [0, 1, 256 * 1024 - 1, 7 * MiB + 3, 256 * MiB - length]) {
      if (offset + length > 256 * MiB) continue;
      const v = m.view(offset, length);
      assert.equal(v.length, length);
      assert.ok(v.buffer.byteLength <= Math.max(512 * 1024, 4 * length), `view(${offset}, ${length}) is on a ${v.buffer.byteLength}-byte slab`);
      // The same bytes as the whole mapping sees.
      v[0] = (offset + length) & 0xff;
      assert.equal(m.buffer[offset], (offset + length) & 0xff);
    }
  }
  m.unmap();
});

test("unmap() detaches every view, subarray and DataView over every slab", () => {
  const m = mapAnonymous(8 * MiB);
  const views = [m.view(0, 10), m.view(3 * MiB, 2 * MiB), m.buffer, m.view(8 * MiB - 1, 1)];
  const subs = views.map((v) => v.subarray(0, 1));
  const dv = new DataView(views[1]!.buffer, views[1]!.byteOffset, 8);
  const f32 = new Float32Array(views[1]!.buffer, views[1]!.byteOffset, 2);
  m.unmap();
  for (const v of [...views, ...subs]) assert.equal(v.length, 0);
  assert.equal(f32.length, 0);
  assert.throws(() => dv.getUint8(0), TypeError);
});

test("resize() detaches the old views and subarrays; new views see the bytes", () => {
  const t = tempDir();
  const p = t.file("grow.bin", pattern(2 * MiB));
  const m = map(p, { access: "write" });
  const old = m.view(MiB, 100);
  const sub = old.subarray(10, 20);
  const whole = m.buffer;
  m.resize(4 * MiB);
  assert.equal(old.length, 0);
  assert.equal(sub.length, 0);
  assert.equal(whole.length, 0);
  assert.equal(m.view(MiB, 100).equals(pattern(2 * MiB).subarray(MiB, MiB + 100)), true);
  assert.equal(m.buffer.length, 4 * MiB);
  const tail = m.view(3 * MiB, 10);
  m.resize(MiB);
  assert.equal(tail.length, 0);
  assert.equal(m.view(0, 10).equals(pattern(10)), true);
  m.unmap();
});

test("a slab its user detached (ArrayBuffer.prototype.transfer) is replaced by a fresh one", { skip: typeof ArrayBuffer.prototype.transfer !== "function" ? "this runtime has no ArrayBuffer.prototype.transfer" : false }, () => {
  const m = mapAnonymous(MiB);
  const v = m.view(0, 64);
  v.fill(9);
  // Moving the slab away in-process (issue 11 covers what the moved copy may do after unmap()).
  const moved = (v.buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer();
  assert.equal(v.length, 0);
  if (portable) {
    // The portable backend's memory is that one ArrayBuffer: it is gone, and it says so.
    assert.throws(() => m.view(0, 64), { code: "ERR_MEMMAP_TRANSFERRED" });
    m.unmap();
    return;
  }
  const again = m.view(0, 64);
  assert.equal(again.length, 64);
  assert.equal(again[0], 9);
  assert.equal(m.buffer.length, MiB);
  const whole = m.buffer;
  (whole.buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer();
  assert.equal(m.buffer.length, MiB, "the whole-mapping Buffer is made again after a move");
  void moved;
  m.unmap();
});

test("a slab moved away by ArrayBuffer.prototype.transfer(), then unmap(): the moved memory can still be read (zeros: quarantined)", movable(" (ERR_MEMMAP_TRANSFERRED)"), () => {
  const t = tempDir();
  const p = t.file("moved.bin", pattern(1 << 20));
  const r = runFixture("slabs-transfer-unmap.mjs", { path: p }, ["--expose-gc"]);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  // The file was let go at unmap(): the moved memory is the quarantine's zeros.
  assert.match(r.stdout, /moved memory read after unmap, sum 0/, ended(r));
});

test("memory moved away by transfer() keeps its mapping when the mapping is dropped without unmap() and collected", movable(), () => {
  const t = tempDir();
  const p = t.file("dropped.bin", Buffer.alloc(1 << 20, 0x41));
  const r = runFixture("slabs-transfer-dropped.mjs", { path: p }, ["--expose-gc"]);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /moved 24 read after collection, bytes not the file's: 0 fresh intact true/, ended(r));
});

test("memory moved away by transfer(), then resize() of a private or shared mapping: the moved memory stays readable and writes land in no other mapping", movable(), () => {
  const t = tempDir();
  const p = t.file("resized.bin", Buffer.alloc(4 << 20, 0x41));
  const r = runFixture("slabs-transfer-resize.mjs", { path: p }, ["--expose-gc"]);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /moved 12 bytes neither the file's nor zero: 0 fresh intact true mappings readable true/, ended(r));
});
