// Options bags and handles: every entry point reads each property once, so
// that what it checks is what it uses. One file for every entry point, as
// the bag below serves them all (lib/validate.ts optionsSnapshot).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { attach, createOutput, mapAnonymous, mapTyped, openRegion, openShared, unlinkShared } from "memmap";
import { nativeOnly, tempDir } from "./helpers.js";

// A bag whose every property is a getter that counts its reads and answers
// `first` the first time and `later` (where given) after that: an entry
// point that checks one read and uses another gets the second answer.
function fickle(first: Record<string, unknown>, later: Record<string, unknown> = {}): { bag: never; reads: Record<string, number> } {
  const reads: Record<string, number> = {};
  const bag = {};
  for (const key of Object.keys(first)) {
    reads[key] = 0;
    Object.defineProperty(bag, key, {
      enumerable: true,
      get: () => (reads[key]!++ === 0 || !(key in later) ? first[key] : later[key]),
    });
  }
  return { bag: bag as never, reads };
}

// Every property of the bag read exactly once.
function once(reads: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(reads).map((key) => [key, 1]));
}

test("createOutput() reads each option once: the size checked is the size made; a refused call leaves no file", () => {
  const t = tempDir();
  const p = join(t.dir, "o.bin");
  const good = fickle({ size: 4096, mode: 0o600, atomic: true, mapped: true }, { size: "4096", mode: -1, atomic: "yes", mapped: 1 });
  const out = createOutput(p, good.bag);
  assert.deepEqual(good.reads, once(good.reads));
  assert.equal(out.size, 4096);
  out.abort();
  // Wrong the first time, right after: refused all the same, before any file is made.
  const bad = fickle({ size: 4096, mode: -1, atomic: true, mapped: true }, { mode: 0o600 });
  assert.throws(() => createOutput(p, bad.bag), { code: "ERR_OUT_OF_RANGE", message: /options\.mode/ });
  assert.deepEqual(bad.reads, once(bad.reads));
  assert.deepEqual(readdirSync(t.dir), [], "nothing left behind");
});

test("openRegion() reads each property of the handle once: the region is written in the output's file, never in another", async () => {
  const t = tempDir();
  const other = t.file("other.bin", Buffer.alloc(64));
  for (const mapped of [true, false]) {
    const out = createOutput(join(t.dir, "a.out"), { size: 64, mapped });
    const h = out.region(8, 16);
    const { bag, reads } = fickle(
      { kind: h.kind, path: h.path, offset: h.offset, length: h.length, mapped: h.mapped },
      { path: other, offset: 0 },
    );
    const w = openRegion(bag);
    assert.deepEqual(reads, once(reads));
    w.write(0, "region bytes");
    w.close();
    await out.commit();
    assert.equal(readFileSync(out.path).toString("latin1", 8, 20), "region bytes", `mapped: ${mapped}`);
    assert.ok(readFileSync(other).equals(Buffer.alloc(64)), `mapped: ${mapped}: the other file is untouched`);
  }
});

test("mapTyped() reads each option once: an offset checked aligned is the offset mapped; a refused call leaves no file",
  () => {
    const t = tempDir();
    // Aligned the first time (4), misaligned after (2).
    const p = join(t.dir, "a.f32");
    const good = fickle({ access: "write", size: 8, offset: 4 }, { offset: 2, size: 9 });
    const { mapping, array } = mapTyped(p, Float32Array, good.bag);
    assert.deepEqual(good.reads, once(good.reads));
    assert.equal(mapping.offset, 4);
    assert.equal(array.length, 7, "8 elements of file, the first one skipped by offset 4");
    mapping.unmap();
    // Misaligned the first time, aligned after: refused, naming the offset, with no file made.
    const q = join(t.dir, "b.f32");
    const bad = fickle({ access: "write", size: 8, offset: 2 }, { offset: 4 });
    assert.throws(() => mapTyped(q, Float32Array, bad.bag), { code: "ERR_INVALID_ARG_VALUE", message: /options\.offset/ });
    assert.deepEqual(bad.reads, once(bad.reads));
    assert.equal(existsSync(q), false, "nothing left behind");
  });

test("openShared() and attach() read each option and handle property once", nativeOnly("the portable backend has no shared memory"), () => {
  const name = `memmap-options-${process.pid}`;
  const opts = fickle({ size: 4096, create: true, exclusive: true, mode: 0o600 }, { size: 1 << 20, create: false, exclusive: false, mode: 0o7777 });
  const m = openShared(name, opts.bag);
  try {
    assert.deepEqual(opts.reads, once(opts.reads));
    assert.equal(m.byteLength, 4096);
  } finally {
    // Unlinked while mapped: on Windows the name goes with the last handle
    // (unlinkShared() of a name no one has open is ENOENT there).
    unlinkShared(name);
    m.unmap();
  }
  const shared = mapAnonymous(4096, { shared: true });
  const h = shared.share();
  const handle = fickle({ kind: h.kind, id: h.id }, { kind: "memmap.Other", id: 0 });
  const a = attach(handle.bag);
  assert.deepEqual(handle.reads, once(handle.reads));
  assert.equal(a.byteLength, 4096);
  a.unmap();
  shared.unmap();
});
