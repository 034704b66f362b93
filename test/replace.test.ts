// Replacing a file under a live mapping. POSIX lets it happen: a rename
// over the mapped path or an unlink leaves the mapping on the old file's
// pages. Windows refuses to truncate, delete or rename over a file that has
// a view: each refusal is an error shaped like fs's, never a crash, and the
// mapping and the file stay as they were; once unmapped, the same calls work.
// (memmap itself never shrinks a file it maps: a write mapping's size and
// resize() only grow it.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, renameSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { createOutput, map } from "memmap";
import { nativeOnly, pattern, tempDir, onWindows } from "./helpers.js";

const SIZE = 3 * 65536;

/** Asserts `fn` throws an error shaped like fs's (string code, syscall). */
function refused(fn: () => unknown, what: string): NodeJS.ErrnoException {
  let err: NodeJS.ErrnoException | undefined;
  try {
    fn();
  } catch (e) {
    err = e as NodeJS.ErrnoException;
  }
  assert.ok(err, `${what} of a mapped file is refused on Windows`);
  assert.equal(typeof err.code, "string", `${what}: ${String(err)}`);
  assert.match(err.code!, /^(E[A-Z]+|UNKNOWN)$/, `${what}: ${String(err)}`);
  assert.equal(typeof err.syscall, "string", `${what}: ${String(err)}`);
  return err;
}

test("replacing, truncating or deleting a mapped file: the mapping keeps its bytes; Windows refuses each with an fs-style error and the file stays", nativeOnly("the portable backend holds no mapping: nothing is refused"), () => {
  const t = tempDir();
  const data = pattern(SIZE);
  const p = t.file("live.bin", data);
  const other = t.file("other.bin", "new content");
  const m = map(p);
  const w = map(p, { access: "write" });
  if (onWindows) {
    // fs's own calls: Node says UNKNOWN for ERROR_USER_MAPPED_FILE (libuv
    // has no code for it), EPERM for the others.
    refused(() => truncateSync(p, 10), "truncate");
    refused(() => renameSync(other, p), "rename over");
    refused(() => unlinkSync(p), "unlink");
    assert.deepEqual(readFileSync(p), data, "the file is as it was");
  } else {
    renameSync(other, p);
    assert.equal(readFileSync(p, "utf8"), "new content");
  }
  assert.deepEqual(Buffer.from(m.buffer), data, "the mapping keeps the bytes it had");
  assert.equal(w.byteLength, SIZE);
  m.unmap();
  w.unmap();
  // Unmapped: the calls that were refused work.
  writeFileSync(other, "newer");
  renameSync(other, p);
  assert.equal(readFileSync(p, "utf8"), "newer");
  unlinkSync(p);
});

test("an output committed over a path that another mapping holds: Windows refuses the rename, the path keeps its old content and the temporary file goes", nativeOnly("the portable backend holds no mapping"), async () => {
  const t = tempDir();
  const data = pattern(SIZE);
  const p = t.file("target.bin", data);
  const reader = map(p);
  for (const sync of [true, false]) {
    const out = createOutput(p, { size: 4096 });
    out.write(0, "replacement");
    if (onWindows) {
      const commit = sync ? async () => out.commitSync() : () => out.commit();
      await assert.rejects(commit(), (e: NodeJS.ErrnoException) => /^E[A-Z]+$/.test(e.code ?? "") && e.syscall === "rename");
      assert.deepEqual(readFileSync(p), data, "the path keeps its old content");
      assert.deepEqual(Buffer.from(reader.buffer), data);
      assert.throws(() => readFileSync(out.writePath), { code: "ENOENT" }, "the temporary file is removed");
    } else {
      if (sync) out.commitSync();
      else await out.commit();
      assert.equal(readFileSync(p).toString("utf8", 0, 11), "replacement");
      assert.deepEqual(Buffer.from(reader.buffer), data, "the old mapping keeps the old file's bytes");
      writeFileSync(p, data);
    }
  }
  reader.unmap();
});
