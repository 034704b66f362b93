// map(): what is mapped, at which offsets, with which access.
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync, readSync, statSync, writeFileSync, existsSync } from "node:fs";
import { open } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { map, mapAnonymous, pageSize, allocationGranularity } from "memmap";
import { nativeOnly, pattern, portable, tempDir, onWindows, writableExecRefused } from "./helpers.js";

test("pageSize and allocationGranularity are powers of two", () => {
  assert.ok(pageSize >= 4096 && (pageSize & (pageSize - 1)) === 0);
  assert.ok(allocationGranularity >= pageSize && allocationGranularity % pageSize === 0);
});

test("a read mapping shows the file's bytes, zero-copy", () => {
  const t = tempDir();
  const data = pattern(3 * pageSize + 17);
  const p = t.file("a.bin", data);
  const m = map(p);
  assert.equal(m.byteLength, data.length);
  assert.equal(m.access, "read");
  assert.equal(m.offset, 0);
  assert.ok(m.buffer.equals(data));
  assert.equal(m.buffer, m.buffer, "buffer is cached");
  m.unmap();
});

test("an unaligned offset maps exactly the bytes fs.readSync reads there", () => {
  const t = tempDir();
  const data = pattern(5 * pageSize + 1000);
  const p = t.file("u.bin", data);
  const fd = openSync(p, "r");
  for (const offset of [1, 123, pageSize - 1, pageSize + 1, 2 * pageSize + 4095]) {
    const length = 777;
    const m = map(p, { offset, length });
    const expected = Buffer.alloc(length);
    assert.equal(readSync(fd, expected, 0, length, offset), length);
    assert.equal(m.offset, offset);
    assert.equal(m.byteLength, length);
    assert.ok(m.buffer.equals(expected), `offset ${offset}`);
    m.unmap();
  }
  closeSync(fd);
});

test("a zero-length file and length 0 give an empty mapping", () => {
  const t = tempDir();
  const empty = t.file("empty", "");
  const m = map(empty);
  assert.equal(m.byteLength, 0);
  assert.equal(m.buffer.length, 0);
  assert.equal(m.view(0, 0).length, 0);
  m.flushSync();
  assert.deepEqual(m.residency().pages, 0);
  m.unmap();
  const full = t.file("full", "abc");
  const z = map(full, { length: 0, offset: 3 });
  assert.equal(z.byteLength, 0);
  z.unmap();
});

test("a read range past the end of the file is a RangeError, not a later SIGBUS", () => {
  const t = tempDir();
  const p = t.file("short", pattern(100));
  assert.throws(() => map(p, { length: 101 }), { name: "RangeError", code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => map(p, { offset: 50, length: 51 }), { name: "RangeError", code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => map(p, { offset: 101 }), { name: "RangeError", code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => map(p, { access: "write", length: 4096 }), { code: "ERR_OUT_OF_RANGE" });
});

test("writes into a read mapping never reach the file", () => {
  const t = tempDir();
  const data = pattern(2 * pageSize);
  const p = t.file("ro", data);
  const m = map(p);
  m.buffer.fill(0xee);
  assert.equal(m.buffer[10], 0xee, "the mapping shows its own write");
  m.flushSync();
  m.unmap();
  assert.ok(readFileSync(p).equals(data), "the file is unchanged");
});

test("copy-on-write: writes are visible in the mapping and never in the file", async () => {
  const t = tempDir();
  const data = pattern(3 * pageSize);
  const p = t.file("cow", data);
  const m = map(p, { access: "copy" });
  m.buffer.write("changed", 100);
  assert.equal(m.buffer.toString("utf8", 100, 107), "changed");
  await m.flush();
  m.flushSync();
  const other = map(p);
  assert.ok(other.buffer.equals(data), "another mapping sees the file's bytes");
  other.unmap();
  m.unmap();
  assert.ok(readFileSync(p).equals(data));
});

test("a write mapping's bytes are in the file after flushSync, read through another fd", () => {
  const t = tempDir();
  const p = t.file("rw", pattern(4 * pageSize));
  const m = map(p, { access: "write", offset: 10, length: 3 * pageSize });
  m.buffer.write("hello, file", 5000);
  m.flushSync({ offset: 5000, length: 11 });
  const fd = openSync(p, "r");
  const got = Buffer.alloc(11);
  readSync(fd, got, 0, 11, 5010);
  closeSync(fd);
  assert.equal(got.toString(), "hello, file");
  m.unmap();
});

test("flush() and scheduleFlush() write back too", async () => {
  const t = tempDir();
  const p = t.file("rw2", pattern(2 * pageSize));
  const m = map(p, { access: "write" });
  m.buffer.write("async", 0);
  await m.flush();
  assert.equal(readFileSync(p).toString("utf8", 0, 5), "async");
  m.buffer.write("sched", 10);
  m.scheduleFlush({ offset: 10, length: 5 });
  m.flushSync();
  assert.equal(readFileSync(p).toString("utf8", 10, 15), "sched");
  await assert.rejects(m.flush({ offset: 0, length: 3 * pageSize }), { code: "ERR_OUT_OF_RANGE" });
  m.unmap();
});

test("size creates a missing file and grows a short one; without size the file must exist", () => {
  const t = tempDir();
  const p = t.file("new.bin");
  assert.throws(() => map(p, { access: "write" }), { code: "ENOENT", syscall: "open", path: p });
  const m = map(p, { access: "write", size: 3 * pageSize + 5, mode: 0o600 });
  assert.equal(statSync(p).size, 3 * pageSize + 5);
  // Windows has one permission bit, read-only, and fs shows 0o666 for a
  // writable file; as fs.openSync does there, the mode sets only that bit.
  assert.equal(statSync(p).mode & 0o777, onWindows ? 0o666 : 0o600);
  assert.equal(m.byteLength, 3 * pageSize + 5);
  m.buffer[m.byteLength - 1] = 42;
  m.flushSync();
  m.unmap();
  assert.equal(readFileSync(p)[3 * pageSize + 4], 42);
  // Never shrinks.
  const n = map(p, { access: "write", size: 10 });
  assert.equal(n.byteLength, 3 * pageSize + 5);
  n.unmap();
  assert.throws(() => map(p, { access: "read", size: 10 }), { code: "ERR_INVALID_ARG_VALUE" });
});

test("a file descriptor, a FileHandle and a file: URL can be mapped", async () => {
  const t = tempDir();
  const data = pattern(1000);
  const p = t.file("kinds", data);
  const fd = openSync(p, "r");
  const a = map(fd);
  closeSync(fd); // native: the mapping keeps its own descriptor; portable: it read the bytes already
  assert.ok(a.buffer.equals(data));
  a.unmap();
  const fh = await open(p, "r+");
  const b = map(fh, { access: "write" });
  b.buffer[0] = 1;
  b.flushSync();
  b.unmap();
  await fh.close();
  assert.equal(readFileSync(p)[0], 1);
  const c = map(pathToFileURL(p));
  assert.equal(c.byteLength, 1000);
  c.unmap();
});

test("a write mapping of a descriptor outlives the descriptor", nativeOnly("the portable backend writes back through the caller's descriptor, which must stay open until unmap()"), async () => {
  const t = tempDir();
  const p = t.file("outlive", pattern(100));
  const fh = await open(p, "r+");
  const m = map(fh, { access: "write" });
  await fh.close();
  m.buffer[5] = 99;
  m.flushSync();
  m.unmap();
  assert.equal(readFileSync(p)[5], 99);
});

test("system errors look like fs errors", () => {
  const t = tempDir();
  assert.throws(() => map(t.dir), (e: NodeJS.ErrnoException) => {
    assert.ok(typeof e.code === "string" && /^E[A-Z]+$/.test(e.code), String(e.code));
    assert.ok(typeof e.errno === "number" && e.errno < 0);
    assert.equal(typeof e.syscall, "string");
    assert.equal(e.path, t.dir);
    return true;
  });
  const missing = t.file("missing");
  // errno is the value fs gives for the same failure (libuv's code: -2 on
  // POSIX, -4058 on Windows).
  const fsErrno = (() => { try { openSync(missing); } catch (e) { return (e as NodeJS.ErrnoException).errno; } })();
  assert.throws(() => map(missing), {
    code: "ENOENT", errno: fsErrno, syscall: "open", path: missing,
    message: `ENOENT: no such file or directory, open '${missing}'`,
  });
  assert.throws(() => map(999999), { code: "EBADF" });
  if (!portable) {
    // The portable backend cannot tell a read-only descriptor until it writes.
    const p = t.file("ro-fd", "abc");
    const fd = openSync(p, "r");
    assert.throws(() => map(fd, { access: "write" }), { code: "EACCES", syscall: "mmap" });
    closeSync(fd);
  }
});

test("exec, populate, hugePages and lock options map the same bytes", nativeOnly("exec and lock need real mappings; the portable backend refuses them with ENOTSUP (tested in portable.test.ts)"), () => {
  const t = tempDir();
  const data = pattern(4 * pageSize);
  const p = t.file("opts", data);
  for (const access of ["read", "copy", "write"] as const) {
    const m = map(p, { access, populate: true, hugePages: true, lock: true });
    assert.ok(m.buffer.equals(data), access);
    m.buffer[0] = data[0]!; // writable in every access
    m.unmap();
  }
  if (writableExecRefused) {
    // Apple Silicon: a clear ENOTSUP that says why, never a crash, and the file as it was.
    assert.throws(() => map(p, { exec: true }), { code: "ENOTSUP", syscall: "mmap", message: /writable and executable/ });
    assert.throws(() => mapAnonymous(pageSize, { exec: true }), { code: "ENOTSUP", message: /writable and executable/ });
    assert.ok(readFileSync(p).equals(data));
    return;
  }
  const x = map(p, { exec: true });
  assert.ok(x.buffer.equals(data));
  x.unmap();
});

test("a failed map leaves the file as it was", () => {
  const t = tempDir();
  const p = t.file("keep", pattern(100));
  // length passes the end even after growth: refused, file untouched.
  assert.throws(() => map(p, { access: "write", size: 200, length: 300 }), { code: "ERR_OUT_OF_RANGE" });
  assert.equal(statSync(p).size, 100);
  const q = t.file("absent");
  assert.throws(() => map(q, { access: "write", size: 200, length: 300 }), { code: "ERR_OUT_OF_RANGE" });
  assert.equal(existsSync(q), false, "a file created for the map is removed again");
});

test("options are checked with Node's error codes", () => {
  const t = tempDir();
  const p = t.file("o", "abc");
  assert.throws(() => map(p, { access: "rw" as never }), { name: "TypeError", code: "ERR_INVALID_ARG_VALUE" });
  assert.throws(() => map(p, { offset: -1 }), { name: "RangeError", code: "ERR_OUT_OF_RANGE", message: /options\.offset/ });
  assert.throws(() => map(p, { offset: 1.5 }), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => map(p, { length: "3" as never }), { name: "TypeError", code: "ERR_INVALID_ARG_TYPE", message: /options\.length/ });
  assert.throws(() => map(p, { populate: 1 as never }), { code: "ERR_INVALID_ARG_TYPE" });
  assert.throws(() => map(p, null as never), { code: "ERR_INVALID_ARG_TYPE" });
  assert.throws(() => map(undefined as never), { code: "ERR_INVALID_ARG_TYPE", message: /"file"/ });
  assert.throws(() => map("a\u0000b"), { code: "ERR_INVALID_ARG_VALUE" });
  assert.throws(() => map(new URL("http://x/y")), { code: "ERR_INVALID_ARG_VALUE" });
  assert.throws(() => map(-1), { code: "ERR_OUT_OF_RANGE" });
});
