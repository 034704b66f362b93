// A full disk is a clean ENOSPC when the file is grown, never a SIGBUS later:
// map() and resize(), createOutput() and grow(). Each test mounts a 1 MiB
// tmpfs, so the file is in the serial tier (test/tiers.mjs); the OutputFile
// case came here from output.test.ts as it was.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createOutput, map, pageSize } from "memmap";
import { darwinRules, mountSmallTmpfs, nativeOnly, tempDir } from "./helpers.js";

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

test("an output larger than the free space: ENOSPC at createOutput and at grow, nothing left behind", nativeOnly("Node's fs cannot reserve blocks (no fallocate): on the portable backend a full disk is an ENOSPC from commit"), (t) => {
  const tmp = tempDir();
  const why = mountSmallTmpfs(tmp.dir);
  if (why) {
    t.skip(`cannot mount a 1 MiB tmpfs here (${why})`);
    return;
  }
  try {
    const p = join(tmp.dir, "big.out");
    writeFileSync(p, "old");
    for (const mapped of [true, false]) {
      assert.throws(() => createOutput(p, { size: 8 << 20, mapped }), { code: "ENOSPC" });
      assert.deepEqual(readdirSync(tmp.dir), ["big.out"], "no temporary file left");
      const out = createOutput(p, { size: 64 << 10, mapped });
      out.write(0, "small enough");
      assert.throws(() => out.grow(8 << 20), { code: "ENOSPC", path: out.writePath });
      assert.equal(out.size, 64 << 10);
      out.abort();
      assert.deepEqual(readdirSync(tmp.dir), ["big.out"]);
      assert.equal(readFileSync(p, "utf8"), "old");
    }
  } finally {
    // Lazy, so that a failed assertion above (which may leave a file open)
    // is what the test reports.
    execFileSync("umount", ["-l", tmp.dir]);
  }
});
