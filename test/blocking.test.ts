// Nothing memmap does in open() can block the event loop (issue 11, item 6):
// a FIFO is refused at once, by map(), adviseFile() and createOutput().
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ended, portable, root, tempDir } from "./helpers.js";

function mkfifo(path: string): boolean {
  return spawnSync("mkfifo", [path]).status === 0;
}

test("a FIFO is refused at once by map(), adviseFile() and createOutput(), never waited on", () => {
  const t = tempDir();
  const fifo = t.file("pipe");
  if (!mkfifo(fifo)) {
    return;
  }
  const r = spawnSync(process.execPath, [join(root, "test", "fixtures", "blocking-fifo.mjs"), JSON.stringify({ fifo })], { cwd: root, encoding: "utf8", timeout: 20_000 });
  const res = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  assert.equal(r.signal, null, `the child was still blocked after 20 s (killed): ${ended(res)}`);
  assert.equal(r.status, 0, ended(res));
  const lines = Object.fromEntries(r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)]));
  assert.match(lines["map"] ?? "", /^ENODEV:mmap:/, ended(res));
  assert.match(lines["map write"] ?? "", /^ENODEV:mmap:/, ended(res));
  // posix_fadvise on a pipe is ESPIPE; the portable backend has no fadvise at all.
  assert.match(lines["adviseFile"] ?? "", portable ? /^(ENOTSUP|EOPNOTSUPP):/ : /^ESPIPE:posix_fadvise:/, ended(res));
  // An output is written at positions: a FIFO is refused before it is opened.
  assert.equal(lines["createOutput"], "ERR_INVALID_ARG_VALUE::", ended(res));
  assert.equal(lines["createOutput in place"], "ERR_INVALID_ARG_VALUE::", ended(res));
});
