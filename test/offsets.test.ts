// Offset arithmetic, without a mapping (Go's TestWriteLoc in cmd/link's
// outbuf_test.go is the model): which slab a view is cut from, where in
// it, and how an optional range resolves. Table-driven, and then checked
// over every (offset, length) of a small space against a model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE_STRIDE, Slabs, type Slab, type SlabSource } from "../dist/slabs.js";
import { resolveRange, spanLength } from "../dist/validate.js";

const KiB = 1024;
const MiB = 1024 * KiB;

/** A source that records the slabs asked for and hands out heap memory whose bytes are their mapping offsets (mod 251). */
class FakeSource implements SlabSource {
  asked: Array<{ start: number; length: number }> = [];
  constructor(readonly byteLength: number) {}
  slab(start: number, length: number): Slab {
    this.asked.push({ start, length });
    const buffer = new ArrayBuffer(length);
    const bytes = new Uint8Array(buffer);
    for (let i = 0; i < length; i++) bytes[i] = (start + i) % 251;
    return { buffer, start };
  }
}

test("a view is cut from the slab of the smallest level whose stride holds it, at the right place", () => {
  const size = 64 * MiB;
  // [offset, length, slab start, slab length]
  const table: Array<[number, number, number, number]> = [
    [0, 1, 0, 2 * BASE_STRIDE],
    [100, 64, 0, 2 * BASE_STRIDE],
    [BASE_STRIDE - 1, 2, 0, 2 * BASE_STRIDE],                                  // straddles a stride: still inside the level-0 slab
    [BASE_STRIDE, 64, BASE_STRIDE, 2 * BASE_STRIDE],
    [3 * BASE_STRIDE + 5, BASE_STRIDE, 3 * BASE_STRIDE, 2 * BASE_STRIDE],     // exactly one stride long
    [5, BASE_STRIDE + 1, 0, 4 * BASE_STRIDE],                                 // one byte more: level 1
    [7 * BASE_STRIDE, 3 * BASE_STRIDE, 4 * BASE_STRIDE, 8 * BASE_STRIDE],     // level 2: stride 4 S, start floor(7 / 4) * 4 S
    [size - 10, 10, size - BASE_STRIDE, BASE_STRIDE],                         // the last slab is cut at the end
    [size - 2 * BASE_STRIDE + 1, 100, size - 2 * BASE_STRIDE, 2 * BASE_STRIDE],
  ];
  for (const [offset, length, start, slabLength] of table) {
    const src = new FakeSource(size);
    const w = new Slabs(src, size);
    const v = w.view(offset, length);
    assert.deepEqual(src.asked, [{ start, length: slabLength }], `view(${offset}, ${length})`);
    assert.equal(v.byteOffset, offset - start, `view(${offset}, ${length}).byteOffset`);
    assert.equal(v.length, length);
    assert.equal(v[0], offset % 251, "the view's first byte is mapping byte `offset`");
    assert.equal(v[length - 1], (offset + length - 1) % 251, "and its last byte is mapping byte `offset + length - 1`");
  }
});

test("every (offset, length) of a small mapping: the view holds exactly its bytes, from a slab at most max(2 S, 4 length) long, made once", () => {
  const size = 3 * BASE_STRIDE + 12_345;
  const src = new FakeSource(size);
  const w = new Slabs(src, size);
  const step = 4093; // a prime: offsets and lengths fall everywhere relative to the strides
  const all = () => {
    for (let offset = 0; offset < size; offset += step) {
      for (let length = 1; offset + length <= size; length += step) {
        const v = w.view(offset, length);
        assert.equal(v.length, length);
        assert.equal(v[0], offset % 251);
        assert.equal(v[length - 1], (offset + length - 1) % 251);
        assert.ok(v.buffer.byteLength <= Math.max(2 * BASE_STRIDE, 4 * length), `view(${offset}, ${length}) is cut from a ${v.buffer.byteLength}-byte slab`);
      }
    }
  };
  all();
  const made = src.asked.length;
  assert.equal(w.count, made);
  assert.ok(made <= 2 * (size / BASE_STRIDE) + 4, `${made} slabs`);
  all();
  assert.equal(src.asked.length, made, "the same views again make no new slab");
});

test("write() lands at the same place view() reads", () => {
  const size = 2 * MiB;
  const w = new Slabs(new FakeSource(size), size);
  for (const [offset, length] of [[0, 1], [BASE_STRIDE - 3, 7], [MiB + 5, 300_000], [size - 9, 9]] as const) {
    const data = Uint8Array.from({ length }, (_, i) => (i * 7 + 1) & 0xff);
    w.write(offset, data);
    assert.deepEqual(new Uint8Array(w.view(offset, length)), data, `write(${offset}, ${length} bytes)`);
  }
});

test("an optional range resolves against the byteLength, or is refused naming the field", () => {
  assert.deepEqual(resolveRange(undefined, 100), { offset: 0, length: 100 });
  assert.deepEqual(resolveRange({}, 100), { offset: 0, length: 100 });
  assert.deepEqual(resolveRange({ offset: 40 }, 100), { offset: 40, length: 60 });
  assert.deepEqual(resolveRange({ offset: 100 }, 100), { offset: 100, length: 0 });
  assert.deepEqual(resolveRange({ offset: 10, length: 90 }, 100), { offset: 10, length: 90 });
  assert.deepEqual(resolveRange({ length: 0 }, 0), { offset: 0, length: 0 });
  assert.throws(() => resolveRange({ offset: 101 }, 100), { code: "ERR_OUT_OF_RANGE", message: /range\.offset/ });
  assert.throws(() => resolveRange({ offset: 10, length: 91 }, 100), { code: "ERR_OUT_OF_RANGE", message: /range\.length.*<= 90/ });
  assert.throws(() => resolveRange({ offset: -1 }, 100), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => resolveRange({ offset: 1.5 }, 100), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => resolveRange(5, 100), { code: "ERR_INVALID_ARG_TYPE" });
});

test("a span (view(), OutputFile.view()) defaults to the end, and is refused past it naming the argument", () => {
  assert.equal(spanLength(0, undefined, 100), 100);
  assert.equal(spanLength(30, undefined, 100), 70);
  assert.equal(spanLength(100, undefined, 100), 0);
  assert.equal(spanLength(30, 70, 100), 70);
  assert.equal(spanLength(0, 0, 0), 0);
  assert.throws(() => spanLength(101, undefined, 100), { code: "ERR_OUT_OF_RANGE", message: /"offset"/ });
  assert.throws(() => spanLength(30, 71, 100), { code: "ERR_OUT_OF_RANGE", message: /"length".*<= 70/ });
  assert.throws(() => spanLength(-1, 1, 100), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => spanLength("1", 1, 100), { code: "ERR_INVALID_ARG_TYPE" });
});
