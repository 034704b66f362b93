// OutputFile: the linker's mmap'd output writer, atomic.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { spawn } from "node:child_process";
import {
  closeSync, existsSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, statSync, symlinkSync, unlinkSync,
  writeFileSync, writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { constants as bufferConstants } from "node:buffer";
import { pathToFileURL } from "node:url";
import { createOutput, openRegion, TEMP_FILE_PATTERN, type OutputRegion } from "memmap";
import { ended, pattern, portable, root, runFixture, tempDir } from "./helpers.js";

// An ELF-like layout: a header, sections at known offsets (two of them
// filled by worker threads), and a tail of unknown size appended after.
const HEADER = 64;
const SECTIONS = [
  { offset: 4096, data: pattern(10_000, 1) },
  { offset: 16_384, data: pattern(70_000, 2) },
  { offset: 90_000, data: pattern(33, 3) },
];
const WORKER_REGIONS = [
  { offset: 100_000, length: 50_000, seed: 4 },
  { offset: 150_000, length: 60_123, seed: 5 },
];
const SIZE = 210_123;
const TAIL = [Buffer.from("symbol table follows\n"), pattern(12_345, 6), Buffer.from("")];

function header(): Buffer {
  const h = Buffer.alloc(HEADER);
  h.write("\u007fELF", 0, "latin1");
  h.writeUInt32LE(SIZE, 8);
  h.writeUInt32LE(SECTIONS.length, 12);
  return h;
}

/** The same file, built with plain fs calls. */
function reference(path: string): Buffer {
  const fd = openSync(path, "w");
  writeSync(fd, header(), 0, HEADER, 0);
  for (const s of SECTIONS) writeSync(fd, s.data, 0, s.data.length, s.offset);
  for (const r of WORKER_REGIONS) writeSync(fd, pattern(r.length, r.seed), 0, r.length, r.offset);
  let at = SIZE;
  for (const t of TAIL) {
    writeSync(fd, t, 0, t.length, at);
    at += t.length;
  }
  ftruncateSync(fd, at);
  closeSync(fd);
  return readFileSync(path);
}

const workerCode = `
  const { workerData, parentPort } = require("node:worker_threads");
  import(workerData.url).then(({ openRegion }) => {
    const r = openRegion(workerData.handle);
    const b = r.buffer;
    for (let i = 0; i < b.length; i++) b[i] = (i * 31 + workerData.seed) & 0xff;
    r.close();
    parentPort.postMessage("done");
  });
`;

function fillInWorker(handle: OutputRegion, seed: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerCode, {
      eval: true,
      workerData: { url: pathToFileURL(join(root, "dist", "index.js")).href, handle, seed },
    });
    w.once("message", () => resolve());
    w.once("error", reject);
    w.once("exit", (c) => (c === 0 ? resolve() : reject(new Error(`worker exited with ${c}`))));
  });
}

for (const mapped of [true, false]) {
  for (const how of ["commit", "commitSync"] as const) {
    test(`an ELF-like layout through views, write, append and two workers equals the plain-fs file (mapped: ${mapped}, ${how})`, async () => {
      const t = tempDir();
      const expected = reference(t.file("reference.bin"));
      const out_path = t.file("a.out", "old content");
      const out = createOutput(out_path, { size: SIZE, mapped });
      assert.equal(out.mapped, mapped && !portable, "the portable backend always takes the heap path");
      assert.equal(out.atomic, true);
      assert.notEqual(out.writePath, out_path);
      assert.match(basename(out.writePath), TEMP_FILE_PATTERN);
      out.buffer.set(header(), 0);
      out.view(SECTIONS[0]!.offset, SECTIONS[0]!.data.length).set(SECTIONS[0]!.data);
      assert.equal(out.write(SECTIONS[1]!.offset, SECTIONS[1]!.data), SECTIONS[1]!.data.length);
      out.write(SECTIONS[2]!.offset, SECTIONS[2]!.data);
      await Promise.all(WORKER_REGIONS.map((r) => fillInWorker(out.region(r.offset, r.length), r.seed)));
      let at = SIZE;
      for (const chunk of TAIL) {
        assert.equal(out.append(chunk), at);
        at += chunk.length;
      }
      assert.equal(out.length, at);
      assert.equal(readFileSync(out_path, "utf8"), "old content", "path is untouched before commit");
      const view = out.view(0, 10);
      if (how === "commit") await out.commit();
      else out.commitSync();
      const got = readFileSync(out_path);
      assert.equal(got.length, expected.length);
      assert.ok(got.equals(expected), "byte for byte");
      assert.equal(existsSync(out.writePath), false, "the temporary file was renamed");
      assert.equal(view.length, 0, "views are detached after commit");
      assert.throws(() => out.buffer, { code: "ERR_MEMMAP_CLOSED" });
      assert.throws(() => out.append("x"), { code: "ERR_MEMMAP_CLOSED" });
      assert.throws(() => out.commitSync(), { code: "ERR_MEMMAP_CLOSED" });
      await assert.rejects(out.commit(), { code: "ERR_MEMMAP_CLOSED" });
      out.abort(); // after commit: nothing
      assert.ok(readFileSync(out_path).equals(expected));
    });
  }
}

test("grow() keeps earlier bytes and absorbs the appended tail at the same offsets", () => {
  for (const mapped of [true, false]) {
    const t = tempDir();
    const p = t.file("g.bin");
    const out = createOutput(p, { size: 5000, mapped });
    out.write(0, pattern(5000));
    assert.equal(out.append("tail!"), 5000);
    const before = out.view(0, 10);
    assert.throws(() => out.grow(5004), { code: "ERR_OUT_OF_RANGE" }, "cannot cut into the tail");
    out.grow(20_000);
    assert.equal(before.length, 0, "views made before grow() are detached");
    assert.equal(out.size, 20_000);
    assert.ok(out.view(0, 5000).equals(pattern(5000)), `mapped: ${mapped}`);
    assert.equal(out.view(5000, 5).toString(), "tail!");
    out.write(19_990, "0123456789");
    assert.throws(() => out.write(19_995, "0123456789"), { code: "ERR_OUT_OF_RANGE" });
    out.commitSync();
    const got = readFileSync(p);
    assert.equal(got.length, 20_000);
    assert.ok(got.subarray(0, 5000).equals(pattern(5000)));
    assert.equal(got.toString("utf8", 5000, 5005), "tail!");
    assert.equal(got.toString("utf8", 19_990), "0123456789");
  }
});

test("abort() and `using` leave an existing path with its old content and no temporary file", () => {
  const t = tempDir();
  const p = t.file("keep.bin", "precious");
  const out = createOutput(p, { size: 4096 });
  out.write(0, "garbage");
  out.append("more garbage");
  const v = out.buffer;
  out.abort();
  out.abort();
  assert.equal(v.length, 0);
  assert.throws(() => out.write(0, "x"), { code: "ERR_MEMMAP_CLOSED" });
  {
    using o2 = createOutput(p, { size: 100, mapped: false });
    o2.write(0, "not committed");
  }
  assert.equal(readFileSync(p, "utf8"), "precious");
  assert.deepEqual(readdirSync(t.dir), ["keep.bin"]);
});

// Symbolic links, or the reason the test cannot make them (Windows without
// the privilege to).
function symlinksRefused(dir: string): string | false {
  try {
    symlinkSync("probe-target", join(dir, "probe"));
    unlinkSync(join(dir, "probe"));
    return false;
  } catch (e) {
    return `cannot make symbolic links here (${(e as NodeJS.ErrnoException).code})`;
  }
}

test("an output through a symbolic link writes the link's target: the link stays a link, and abort() leaves the target as it was", async (t) => {
  const tmp = tempDir();
  const refused = symlinksRefused(tmp.dir);
  if (refused) return void t.skip(refused);
  mkdirSync(join(tmp.dir, "real"));
  mkdirSync(join(tmp.dir, "links"));
  const target = tmp.file("real/target.bin", "old content");
  // A direct link, and a chain of relative ones from another folder:
  // links/a -> ../b -> real/target.bin.
  const b = join(tmp.dir, "b");
  const a = join(tmp.dir, "links", "a");
  symlinkSync(join("real", "target.bin"), b);
  symlinkSync(join("..", "b"), a);
  for (const [link, how] of [[b, "commit"], [a, "commitSync"]] as const) {
    const dropped = createOutput(link, { size: 9 });
    dropped.write(0, "discarded");
    dropped.abort();
    assert.equal(readFileSync(target, "utf8"), "old content", `${link}: abort() leaves the target as it was`);
    const out = createOutput(link, { size: 11 });
    assert.equal(out.path, link);
    assert.equal(dirname(out.writePath), realpathSync(join(tmp.dir, "real")), "the temporary file is beside the target, so the rename stays in one file system");
    out.write(0, "new content");
    if (how === "commit") await out.commit();
    else out.commitSync();
    for (const l of [a, b]) assert.ok(lstatSync(l).isSymbolicLink(), `${l} is still a link after ${how}`);
    assert.equal(readFileSync(target, "utf8"), "new content", how);
    assert.deepEqual(readdirSync(join(tmp.dir, "real")), ["target.bin"], "no temporary file left");
    writeFileSync(target, "old content");
  }
  // A dangling link: its target is made, the link kept.
  const dangling = join(tmp.dir, "links", "dangling");
  symlinkSync(join("..", "real", "made.bin"), dangling);
  const made = createOutput(dangling, { size: 4 });
  made.write(0, "made");
  made.commitSync();
  assert.ok(lstatSync(dangling).isSymbolicLink());
  assert.equal(readFileSync(join(tmp.dir, "real", "made.bin"), "utf8"), "made");
});

test("a chain of 40 symbolic links is followed, 41 or a loop is ELOOP with nothing left behind", async (t) => {
  const tmp = tempDir();
  const refused = symlinksRefused(tmp.dir);
  if (refused) return void t.skip(refused);
  const target = tmp.file("target.bin", "old");
  // l0 -> l1 -> ... -> l40 -> target.bin: from l1, 40 links; from l0, 41.
  for (let i = 0; i <= 40; i++) symlinkSync(i === 40 ? "target.bin" : `l${i + 1}`, join(tmp.dir, `l${i}`));
  const out = createOutput(join(tmp.dir, "l1"), { size: 3 });
  out.write(0, "new");
  await out.commit();
  assert.equal(readFileSync(target, "utf8"), "new");
  assert.throws(() => createOutput(join(tmp.dir, "l0"), { size: 3 }), { code: "ELOOP", syscall: "open", path: join(tmp.dir, "l0") });
  symlinkSync("loop-b", join(tmp.dir, "loop-a"));
  symlinkSync("loop-a", join(tmp.dir, "loop-b"));
  assert.throws(() => createOutput(join(tmp.dir, "loop-a"), { size: 3 }), { code: "ELOOP" });
  assert.equal(readdirSync(tmp.dir).filter((n) => TEMP_FILE_PATTERN.test(n)).length, 0, "no temporary file left");
  assert.equal(readFileSync(target, "utf8"), "new");
});

test("a temporary file that cannot be made is an error naming the destination, not the temporary file", () => {
  const t = tempDir();
  const dest = join(t.dir, "missing-dir", "o.bin");
  const fsErrno = (() => { try { openSync(dest, "wx+"); } catch (e) { return (e as NodeJS.ErrnoException).errno; } })();
  assert.throws(() => createOutput(dest, { size: 1 }), {
    code: "ENOENT", errno: fsErrno, syscall: "open", path: dest,
    message: `ENOENT: no such file or directory, open '${dest}'`,
  });
});

test("a process killed with SIGKILL mid-write leaves path untouched, a recognisable temporary file at most", async () => {
  const t = tempDir();
  const p = t.file("victim.bin", "old");
  const child = spawn(process.execPath, ["--input-type=module", "-e", `
    import { createOutput } from "memmap";
    const out = createOutput(${JSON.stringify(p)}, { size: 1 << 20 });
    out.buffer.fill(1);
    out.append("tail");
    console.log("writing");
    for (;;) out.buffer.fill(2);
  `], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
  child.kill("SIGKILL");
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once("exit", (c, s) => resolve([c, s])));
  assert.equal(signal, "SIGKILL", `exit code ${code}`);
  assert.equal(readFileSync(p, "utf8"), "old");
  for (const name of readdirSync(t.dir)) {
    if (name !== "victim.bin") assert.match(name, TEMP_FILE_PATTERN);
  }
});

test("atomic: false writes in place; a device such as /dev/null is written, never replaced", async () => {
  const t = tempDir();
  const p = t.file("inplace.bin", "0123456789abcdef");
  const out = createOutput(p, { size: 4, atomic: false });
  assert.equal(out.writePath, p);
  out.write(0, "ABCD");
  out.append("!");
  await out.commit();
  assert.equal(readFileSync(p, "utf8"), "ABCD!", "truncated to the exact length");
  const dev = createOutput("/dev/null", { size: 1000 });
  assert.equal(dev.mapped, false);
  assert.equal(dev.atomic, false);
  dev.write(0, "into the void");
  dev.append("and more");
  dev.commitSync();
  assert.ok(statSync("/dev/null").isCharacterDevice());
  const q = t.file("created.bin");
  const o3 = createOutput(q, { size: 10, atomic: false });
  o3.abort();
  assert.equal(existsSync(q), false, "a file created in place is removed by abort()");
});

test("written in place, the region shows the file's bytes whether mapped or not, and the device fallback grows", () => {
  for (const mapped of [true, false]) {
    const t = tempDir();
    const p = t.file("inplace.bin", "0123456789abcdef");
    const out = createOutput(p, { size: 8, atomic: false, mapped });
    assert.equal(out.view(0, 8).toString(), "01234567", `mapped: ${mapped}`);
    out.write(0, "AB");
    out.commitSync();
    assert.equal(readFileSync(p, "utf8"), "AB234567", `mapped: ${mapped}: bytes not written keep the file's`);
  }
  const dev = createOutput("/dev/null", { size: 10 });
  dev.write(0, "0123456789");
  dev.append("tail");
  dev.grow(100);
  assert.equal(dev.view(0, 10).toString(), "0123456789", "kept across grow()");
  assert.equal(dev.view(10, 90).every((b) => b === 0), true, "a device holds nothing to read back");
  dev.commitSync();
});

test("regions may not overlap and are checked", () => {
  const t = tempDir();
  const out = createOutput(t.file("r.bin"), { size: 1000 });
  out.region(0, 100);
  out.region(100, 100);
  assert.throws(() => out.region(150, 10), { code: "ERR_INVALID_ARG_VALUE", message: /overlaps/ });
  assert.throws(() => out.region(999, 2), { code: "ERR_OUT_OF_RANGE" });
  out.region(500, 0);
  assert.throws(() => openRegion({ kind: "nope" } as never), { code: "ERR_INVALID_ARG_TYPE" });
  const h = out.region(200, 50);
  assert.deepEqual(structuredClone(h), h, "a handle is structured-cloneable");
  using r = openRegion(h);
  r.write(0, "in region");
  assert.throws(() => r.write(45, "0123456789"), { code: "ERR_OUT_OF_RANGE" });
  r.close();
  if (out.mapped) assert.equal(out.view(200, 9).toString(), "in region", "mapped: a region's writes are the output's bytes at once");
  out.commitSync();
  assert.equal(readFileSync(out.path).toString("utf8", 200, 209), "in region", "a region's writes are in the committed file");
});

test("createOutput checks its arguments", () => {
  const t = tempDir();
  assert.throws(() => createOutput(t.file("x"), {} as never), { code: "ERR_INVALID_ARG_TYPE", message: /options\.size/ });
  assert.throws(() => createOutput(t.file("x"), { size: -1 }), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => createOutput(42 as never, { size: 1 }), { code: "ERR_INVALID_ARG_TYPE" });
  assert.throws(() => createOutput(join(t.dir, "missing-dir", "x"), { size: 1 }), { code: "ENOENT" });
  assert.deepEqual(readdirSync(t.dir), []);
});

test("outputs dropped without commit() or abort() give back their descriptor and temporary file", () => {
  const t = tempDir();
  const r = runFixture("output-dropped.mjs", { dir: t.dir }, ["--expose-gc"]);
  assert.equal(r.status, 0, ended(r));
  const m = /temporary files (\d+) extra descriptors (-?\d+)/.exec(r.stdout);
  assert.ok(m, ended(r));
  assert.ok(Number(m[1]) < 200, `temporary files left while running: ${m[1]}`);
  assert.ok(Number(m[2]) < 200, `descriptors left while running: ${m[2]}`);
  const left = readdirSync(t.dir).filter((n) => TEMP_FILE_PATTERN.test(n));
  assert.deepEqual(left, [], "no temporary file survives a normal exit");
  assert.deepEqual(readdirSync(t.dir).filter((n) => n.startsWith("out") || n.startsWith("kept")), [], "no destination was created");
});

test("without a mapping, a size refused (too large for one Buffer, or for the disk) leaves the file as it was: createOutput in place and grow()", () => {
  // Where a Buffer is at most 4 GiB (Node 20), one byte more: the disk takes
  // it, the Buffer cannot. Elsewhere a size no disk here takes.
  const tooBig = bufferConstants.MAX_LENGTH < 2 ** 40 ? bufferConstants.MAX_LENGTH + 1 : 2 ** 52;
  const refused = (e: NodeJS.ErrnoException): boolean => ["ERR_OUT_OF_RANGE", "ENOMEM", "ENOSPC", "EFBIG"].includes(e.code ?? "");
  const t = tempDir();
  const p = t.file("small.bin", "12345");
  assert.throws(() => createOutput(p, { size: tooBig, atomic: false, mapped: false }), refused);
  assert.equal(statSync(p).size, 5, "createOutput left the file's size");
  assert.equal(readFileSync(p, "utf8"), "12345");
  const out = createOutput(t.file("grow.bin"), { size: 100, mapped: false });
  out.append("tail");
  assert.throws(() => out.grow(tooBig), refused);
  assert.equal(statSync(out.writePath).size, 104, "grow() left the file's size");
  assert.equal(out.size, 100);
  out.write(0, "still usable");
  out.commitSync();
  assert.equal(readFileSync(out.path).toString("utf8", 0, 12), "still usable");
  assert.equal(readFileSync(out.path).toString("utf8", 100), "tail");
});

test("an empty region opens nothing: it can be opened and closed even after the output was committed", () => {
  for (const mapped of [true, false]) {
    const t = tempDir();
    const out = createOutput(t.file("e.bin"), { size: 10, mapped });
    const h = out.region(5, 0);
    out.commitSync();
    const r = openRegion(h);
    assert.equal(r.buffer.length, 0);
    r.close();
    assert.throws(() => r.buffer, { code: "ERR_MEMMAP_CLOSED" });
  }
});
