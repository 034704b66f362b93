// Scale: mappings dropped without unmap(), files past 4 GiB, memory use.
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { constants as bufferConstants } from "node:buffer";
import { map } from "memmap";
import { spawnSync } from "node:child_process";
import { ended, nativeOnly, root, runFixture, tempDir, pattern, addonPath, notOnWindows, skipIf } from "./helpers.js";
import { join } from "node:path";

const GiB = 1024 ** 3;

test("200,000 mappings made and dropped without unmap() in a synchronous loop", notOnWindows("the addon cannot force a collection there (node.exe does not export V8's functions under names it can find), and node.exe's C runtime has 8,192 descriptors: a loop that never yields runs out (known gap, docs/backends.md)"), () => {
  const t = tempDir();
  const p = t.file("small", pattern(4096));
  const r = runFixture("scale-dropped-mappings.mjs", { path: p });
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /completed 416000000 /, ended(r));
});

test("an 8 GiB sparse file: a write at 5 GiB + 123 lands exactly there", nativeOnly("the portable backend holds a mapping in one heap Buffer (at most buffer.constants.MAX_LENGTH)"), () => {
  const t = tempDir();
  const p = t.file("big.bin");
  const fd = openSync(p, "w+");
  ftruncateSync(fd, 8 * GiB);
  const pos = 5 * GiB + 123;
  writeSync(fd, Buffer.from("before"), 0, 6, pos + 1000);
  const m = map(p, { access: "write" });
  assert.equal(m.byteLength, 8 * GiB);
  if (bufferConstants.MAX_LENGTH < 8 * GiB) {
    // Node 20: a Buffer (and an external ArrayBuffer) is at most 4 GiB.
    assert.throws(() => m.buffer, { name: "RangeError", code: "ERR_OUT_OF_RANGE", message: /view\(/ });
  } else {
    // Node 22+: the whole mapping is one Buffer.
    const whole = m.buffer;
    assert.equal(whole.length, 8 * GiB);
    assert.equal(whole.toString("latin1", pos + 1000, pos + 1006), "before");
  }
  const v = m.view(pos, 2000);
  assert.equal(v.toString("utf8", 1000, 1006), "before", "reads the file's bytes at 5 GiB + 1123");
  v.write("memmap was here", 0);
  m.flushSync({ offset: pos, length: 15 });
  const got = Buffer.alloc(15);
  assert.equal(readSync(fd, got, 0, 15, pos), 15);
  assert.equal(got.toString(), "memmap was here");
  // Past the Buffer limit too, through views.
  const tail = m.view(8 * GiB - 10, 10);
  tail.fill(3);
  m.flushSync({ offset: 8 * GiB - 10 });
  const last = Buffer.alloc(10);
  readSync(fd, last, 0, 10, 8 * GiB - 10);
  assert.ok(last.equals(Buffer.alloc(10, 3)));
  m.unmap();
  // A read mapping at an offset past 4 GiB sees the same bytes.
  const r = map(p, { offset: pos, length: 15 });
  assert.equal(r.buffer.toString(), "memmap was here");
  r.unmap();
  closeSync(fd);
  assert.equal(bufferConstants.MAX_LENGTH <= 2 ** 53, true);
});

test("views that straddle the 2 GiB and 4 GiB slab boundaries of an 8 GiB file read and write the file's bytes", nativeOnly("the portable backend holds a mapping in one heap Buffer (at most buffer.constants.MAX_LENGTH)"), () => {
  const t = tempDir();
  const p = t.file("straddle.bin");
  const fd = openSync(p, "w+");
  ftruncateSync(fd, 8 * GiB);
  // Marks on both sides of each boundary, written with fs.
  const boundaries = [2 * GiB, 4 * GiB, 6 * GiB];
  for (const b of boundaries) writeSync(fd, pattern(8192, b / GiB), 0, 8192, b - 4096);
  const m = map(p, { access: "write" });
  for (const b of boundaries) {
    for (const [offset, length] of [[b - 4096, 8192], [b - 1, 2], [b - 3000, 3 * 1024 * 1024], [b - 100, 200]] as const) {
      const v = m.view(offset, length);
      const want = Buffer.alloc(length);
      readSync(fd, want, 0, length, offset);
      assert.ok(v.equals(want), `view(${offset}, ${length}) reads the file's bytes`);
    }
    // Writes through a straddling view land in the file exactly there.
    const v = m.view(b - 5, 10);
    v.write("0123456789", "latin1");
  }
  // Views longer than 2 GiB that cross 4 GiB.
  const long = m.view(3 * GiB, 2 * GiB + 1);
  assert.equal(long.length, 2 * GiB + 1);
  assert.equal(long[GiB], m.view(4 * GiB, 1)[0]);
  m.flushSync();
  for (const b of boundaries) {
    const got = Buffer.alloc(10);
    readSync(fd, got, 0, 10, b - 5);
    assert.equal(got.toString("latin1"), "0123456789", `the write across ${b / GiB} GiB reached the file`);
  }
  m.unmap();
  assert.equal(long.length, 0, "unmap() detached the long view too");
  closeSync(fd);
});

test("populate and lock on a read mapping leave anonymous memory small", skipIf(nativeOnly("the portable backend's mappings are anonymous memory by design"), notOnWindows("it reads /proc/self/status")), () => {
  const t = tempDir();
  const size = 128 * 1024 * 1024;
  const p = t.file("large");
  const fd = openSync(p, "w");
  const chunk = Buffer.alloc(1 << 20, 1);
  for (let i = 0; i < size / chunk.length; i++) writeSync(fd, chunk);
  closeSync(fd);
  const r = runFixture("scale-populate-lock.mjs", { path: p });
  assert.equal(r.status, 0, ended(r));
  const out = JSON.parse(r.stdout) as { before: number; afterPopulate: number; locked: number | "skipped"; afterLockMethod: number; s: number };
  assert.equal(out.s, size / 4096, "every page was read");
  const limit = 24 * 1024 * 1024; // 128 MiB mapped; a broken copy-on-write would add all of it
  assert.ok(out.afterPopulate - out.before < limit, `populate: ${JSON.stringify(out)}`);
  if (out.locked === "skipped") {
    console.log("# lock part skipped: RLIMIT_MEMLOCK refused locking 128 MiB");
  } else {
    assert.ok(out.locked - out.before < limit, `lock: ${JSON.stringify(out)}`);
  }
  assert.ok(out.afterLockMethod - out.before < limit, `lock(): ${JSON.stringify(out)}`);
});

test("when descriptors run out, the addon collects dropped mappings and retries (RLIMIT_NOFILE 256)", skipIf(nativeOnly("this is the addon's own fallback; the portable backend holds no descriptor for read mappings"), notOnWindows("RLIMIT_NOFILE and prlimit are POSIX")), () => {
  const t = tempDir();
  const p = t.file("fds", pattern(4096));
  const child = [join(root, "test", "fixtures", "scale-descriptors.mjs"), JSON.stringify({ path: p, addon: addonPath })];
  const r = spawnSync("bash", ["-c", 'ulimit -Sn 256 && ulimit -Hn 256 && exec "$0" "$1" "$2"', process.execPath, ...child], {
    cwd: root, encoding: "utf8",
  });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  const forced = Number(/forced collections: (\d+)/.exec(r.stdout)?.[1]);
  // Bun's own collector frees the dropped mappings' descriptors in time by
  // itself; Node's does not, and needs the fallback.
  if (process.versions["bun"] === undefined) assert.ok(forced > 0, `5,000 file mappings under a 256-descriptor limit need the EMFILE fallback: ${r.stdout}`);
});
