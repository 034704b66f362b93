// Model-based test: random sequences of map / write through a Buffer / plain
// fs write / flush / resize / advise / unmap (and so remap) on a few files,
// against a model kept with plain byte arrays; after every step the files
// (read with fs) and every live mapping must agree with the model wherever
// the backend promises they do. fast-check shrinks a failure to a minimal
// sequence. Runs on both backends (npm test runs the suite once per backend).
//
// What "agree" means (docs/backends.md):
//  - native: "write" and "read" mappings show the file as it is now; a
//    "copy" mapping shows what was written through it (its other bytes
//    follow the file until their page is first written, so are not checked);
//  - portable: a mapping is its own copy, taken at map() (and at resize()
//    for the new part); a "write" mapping reaches the file at flush/unmap.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readFileSync, writeFileSync, openSync, writeSync, closeSync } from "node:fs";
import { map, type Mapping } from "memmap";
import { portable, tempDir } from "./helpers.js";

type Access = "read" | "write" | "copy";

interface MFile {
  path: string;
  bytes: Uint8Array;
}

interface MMap {
  file: number;
  access: Access;
  offset: number;
  length: number;
  real: Mapping;
  content: Uint8Array; // portable: the mapping's own bytes; native copy: written bytes
  written: Uint8Array; // native copy: 1 where written through the mapping
}

interface World {
  files: MFile[];
  maps: MMap[];
}

const PAGE = 4096;
const FILE_SIZE = 3 * PAGE + 100;
const MAX_SIZE = 6 * PAGE;

function grow(bytes: Uint8Array, size: number): Uint8Array {
  if (size <= bytes.length) return bytes;
  const next = new Uint8Array(size);
  next.set(bytes);
  return next;
}

function check(w: World): void {
  for (const f of w.files) {
    const got = readFileSync(f.path);
    assert.ok(Buffer.from(f.bytes).equals(got), `file ${f.path}: ${got.length} bytes, model ${f.bytes.length}`);
  }
  for (const m of w.maps) {
    const buf = m.real.buffer;
    assert.equal(buf.length, m.length);
    const file = w.files[m.file]!.bytes;
    if (!portable && m.access !== "copy") {
      assert.ok(buf.equals(file.subarray(m.offset, m.offset + m.length)), `${m.access} mapping at ${m.offset}+${m.length} shows the file`);
    } else if (!portable) {
      for (let i = 0; i < m.length; i++) {
        if (m.written[i]) assert.equal(buf[i], m.content[i], `copy mapping byte ${i}`);
      }
    } else {
      assert.ok(buf.equals(m.content), `portable ${m.access} mapping at ${m.offset}+${m.length} is its own copy`);
    }
  }
}

class MapCmd implements fc.Command<World, World> {
  constructor(readonly file: number, readonly access: Access, readonly offset: number, readonly length: number) {}
  check(w: Readonly<World>): boolean {
    const size = w.files[this.file]!.bytes.length;
    return this.offset + this.length <= size && w.maps.length < 6;
  }
  run(_m: World, w: World): void {
    const f = w.files[this.file]!;
    const real = map(f.path, { access: this.access, offset: this.offset, length: this.length });
    w.maps.push({
      file: this.file, access: this.access, offset: this.offset, length: this.length, real,
      content: f.bytes.slice(this.offset, this.offset + this.length),
      written: new Uint8Array(this.length),
    });
    check(w);
  }
  toString(): string {
    return `map(file${this.file}, ${this.access}, ${this.offset}, ${this.length})`;
  }
}

class WriteCmd implements fc.Command<World, World> {
  constructor(readonly which: number, readonly at: number, readonly data: Uint8Array) {}
  check(w: Readonly<World>): boolean {
    return w.maps.length > 0;
  }
  run(_m: World, w: World): void {
    const m = w.maps[this.which % w.maps.length]!;
    if (m.access === "read") return; // a read mapping is never written here
    const at = this.at % (m.length + 1);
    const data = this.data.subarray(0, m.length - at);
    m.real.buffer.set(data, at);
    if (m.access === "write" && !portable) w.files[m.file]!.bytes.set(data, m.offset + at);
    m.content.set(data, at);
    m.written.fill(1, at, at + data.length);
    check(w);
  }
  toString(): string {
    return `write(map${this.which}, ${this.at}, ${this.data.length} bytes)`;
  }
}

class FsWriteCmd implements fc.Command<World, World> {
  constructor(readonly file: number, readonly at: number, readonly data: Uint8Array) {}
  check(): boolean {
    return true;
  }
  run(_m: World, w: World): void {
    const f = w.files[this.file]!;
    const at = this.at % (f.bytes.length + 1);
    const data = this.data.subarray(0, f.bytes.length - at); // within the file: no growth
    const fd = openSync(f.path, "r+");
    writeSync(fd, data, 0, data.length, at);
    closeSync(fd);
    f.bytes.set(data, at);
    check(w);
  }
  toString(): string {
    return `fs.write(file${this.file}, ${this.at}, ${this.data.length} bytes)`;
  }
}

// What a portable "write" mapping does at flush and unmap.
function writeBack(w: World, m: MMap): void {
  if (portable && m.access === "write") w.files[m.file]!.bytes.set(m.content, m.offset);
}

class FlushCmd implements fc.Command<World, World> {
  constructor(readonly which: number) {}
  check(w: Readonly<World>): boolean {
    return w.maps.length > 0;
  }
  run(_m: World, w: World): void {
    const m = w.maps[this.which % w.maps.length]!;
    m.real.flushSync();
    writeBack(w, m);
    check(w);
  }
  toString(): string {
    return `flush(map${this.which})`;
  }
}

class AdviseCmd implements fc.Command<World, World> {
  constructor(readonly which: number, readonly advice: "normal" | "random" | "sequential" | "willneed") {}
  check(w: Readonly<World>): boolean {
    return w.maps.length > 0;
  }
  run(_m: World, w: World): void {
    w.maps[this.which % w.maps.length]!.real.advise(this.advice);
    check(w);
  }
  toString(): string {
    return `advise(map${this.which}, ${this.advice})`;
  }
}

class ResizeCmd implements fc.Command<World, World> {
  constructor(readonly which: number, readonly newLength: number) {}
  check(w: Readonly<World>): boolean {
    return w.maps.length > 0;
  }
  run(_m: World, w: World): void {
    const m = w.maps[this.which % w.maps.length]!;
    const f = w.files[m.file]!;
    const end = m.offset + this.newLength;
    const old = m.real.buffer;
    if (end > f.bytes.length && m.access !== "write") {
      assert.throws(() => m.real.resize(this.newLength), { code: "ERR_OUT_OF_RANGE" });
      check(w);
      return;
    }
    m.real.resize(this.newLength);
    assert.equal(old.length, 0, "views made before a resize are detached");
    if (end > f.bytes.length) f.bytes = grow(f.bytes, end); // "write" grows the file with zeros
    const content = new Uint8Array(this.newLength);
    const keep = Math.min(m.length, this.newLength);
    content.set(m.content.subarray(0, keep));
    content.set(f.bytes.subarray(m.offset + keep, end), keep); // the new part is read from the file
    const written = new Uint8Array(this.newLength);
    written.set(m.written.subarray(0, keep));
    m.content = content;
    m.written = written;
    m.length = this.newLength;
    check(w);
  }
  toString(): string {
    return `resize(map${this.which}, ${this.newLength})`;
  }
}

class UnmapCmd implements fc.Command<World, World> {
  constructor(readonly which: number) {}
  check(w: Readonly<World>): boolean {
    return w.maps.length > 0;
  }
  run(_m: World, w: World): void {
    const i = this.which % w.maps.length;
    const m = w.maps[i]!;
    const view = m.length === 0 ? null : m.real.view(0, Math.min(8, m.length));
    assert.equal(m.real.unmap(), true);
    if (view) assert.equal(view.length, 0, "unmap() detaches views");
    writeBack(w, m);
    w.maps.splice(i, 1);
    check(w);
  }
  toString(): string {
    return `unmap(map${this.which})`;
  }
}

const bytes = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => new Uint8Array(b));
const fileIx = fc.integer({ min: 0, max: 2 });
const commands = [
  fc.tuple(fileIx, fc.constantFrom<Access>("read", "write", "copy"), fc.integer({ min: 0, max: FILE_SIZE }), fc.integer({ min: 0, max: FILE_SIZE }))
    .map(([f, a, o, l]) => new MapCmd(f, a, o, l)),
  fc.tuple(fc.nat(10), fc.nat(MAX_SIZE), bytes).map(([m, at, d]) => new WriteCmd(m, at, d)),
  fc.tuple(fileIx, fc.nat(MAX_SIZE), bytes).map(([f, at, d]) => new FsWriteCmd(f, at, d)),
  fc.nat(10).map((m) => new FlushCmd(m)),
  fc.tuple(fc.nat(10), fc.constantFrom("normal", "random", "sequential", "willneed" as const)).map(([m, a]) => new AdviseCmd(m, a)),
  fc.tuple(fc.nat(10), fc.integer({ min: 0, max: MAX_SIZE - PAGE })).map(([m, n]) => new ResizeCmd(m, n)),
  fc.nat(10).map((m) => new UnmapCmd(m)),
];

test("random sequences of map, write, fs write, flush, advise, resize and unmap agree with the model", () => {
  const seed = Number(process.env["MEMMAP_FC_SEED"] ?? 20261122);
  const runs = Number(process.env["MEMMAP_FC_RUNS"] ?? 2000);
  fc.assert(
    fc.property(fc.commands(commands, { maxCommands: 25 }), (cmds) => {
      const t = tempDir();
      const w: World = { files: [], maps: [] };
      try {
        for (let i = 0; i < 3; i++) {
          const data = new Uint8Array(FILE_SIZE).map((_, j) => (j * 7 + i * 13) & 0xff);
          const path = t.file(`f${i}.bin`);
          writeFileSync(path, data);
          w.files.push({ path, bytes: data });
        }
        fc.modelRun(() => ({ model: w, real: w }), cmds);
      } finally {
        for (const m of w.maps) {
          try {
            m.real.unmap();
          } catch {
            // the failure being reported matters more
          }
        }
      }
    }),
    { seed, numRuns: runs },
  );
});
