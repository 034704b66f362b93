// A full disk is a clean ENOSPC when the file is grown, never a SIGBUS later.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { map, pageSize } from "memmap";
import { darwinRules, nativeOnly, tempDir } from "./helpers.js";

function mountSmallTmpfs(dir: string): string | null {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "memmap-test", dir], { stdio: "pipe" });
    return null;
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e).trim() || "mount failed";
  }
}

test("size larger than the free space: ENOSPC at map time, nothing left behind; resize too", nativeOnly("Node's fs cannot reserve blocks (no fallocate), so the portable backend reports a full disk at flush instead"), (t) => {
  const tmp = tempDir();
  const why = mountSmallTmpfs(tmp.dir);
  if (why !== null) {
    t.skip(`cannot mount a 1 MiB tmpfs here (${why}); the ENOSPC test needs one`);
    return;
  }
  try {
    const p = join(tmp.dir, "out.bin");
    assert.throws(() => map(p, { access: "write", size: 8 << 20 }), { code: "ENOSPC", syscall: darwinRules ? "fcntl" : "fallocate", path: p });
    assert.equal(existsSync(p), false, "the file created for the map was removed");
    const q = join(tmp.dir, "existing.bin");
    writeFileSync(q, Buffer.alloc(1000, 1));
    assert.throws(() => map(q, { access: "write", size: 8 << 20 }), { code: "ENOSPC" });
    assert.equal(statSync(q).size, 1000, "an existing file keeps its size");
    const m = map(q, { access: "write", size: 16 * pageSize });
    m.buffer.fill(2);
    assert.throws(() => m.resize(8 << 20), { code: "ENOSPC" });
    assert.equal(m.byteLength, 16 * pageSize);
    assert.equal(statSync(q).size, 16 * pageSize, "a refused resize leaves the file's size");
    m.buffer[0] = 3; // still mapped and usable
    m.unmap();
  } finally {
    // Lazy: a failed assertion above may leave the mapping (and the file)
    // open, and a busy umount would hide it and leave the mount behind.
    execFileSync("umount", ["-l", tmp.dir]);
  }
});
