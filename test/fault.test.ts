// The fault guard: a file that shrinks under a mapping cannot kill the
// process. Each dangerous access happens in a child; the test checks how the
// child ended and what it saw.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { map } from "memmap";
import { ended, nativeOnly, pattern, root, runChild, runFixture, tempDir } from "./helpers.js";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const ONLY = process.platform === "win32"
  ? { skip: "Windows: a mapped file cannot be truncated there (fs says UNKNOWN for ERROR_USER_MAPPED_FILE), and these tests drive POSIX signals; the Windows guard is described in docs/backends.md" }
  : nativeOnly("the portable backend holds the bytes in memory: nothing can fault (docs/backends.md)");
const PAGE = 4096;

/**
 * Starts test/fixtures/<name> (with `params`) in a child that maps, prints
 * "mapped", waits for one line on stdin, then goes on (test/fixtures/pause.mjs);
 * the parent runs `between` in that gap.
 */
async function withPause(name: string, params: Record<string, unknown>, between: () => void) {
  const child = spawn(process.execPath, [join(root, "test", "fixtures", name), JSON.stringify(params)], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: string) => {
      const before = stdout;
      stdout += d;
      if (!before.includes("mapped") && stdout.includes("mapped")) resolve();
    });
    child.once("exit", (c) => reject(new Error(`child ended early (${c}): ${stdout}${stderr}`)));
  });
  between();
  child.stdin.write("go\n");
  // "close", not "exit": the child's last output may still be in the pipe when it has exited.
  const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once("close", (c, s) => resolve([c, s])));
  return { status, signal, stdout, stderr };
}

for (const [label, keep] of [["to 0", 0], ["to half", 8 * PAGE]] as const) {
  test(`a write mapping whose file is truncated ${label}: every page read and written, the child lives and is told`, ONLY, async () => {
    const t = tempDir();
    const p = t.file("victim.bin", pattern(16 * PAGE));
    const r = await withPause("fault-truncated-write.mjs", { path: p, page: PAGE, keep }, () => truncateSync(p, keep));
    assert.equal(r.signal, null, `${r.stdout}${r.stderr}`);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const out = JSON.parse(r.stdout.split("\n").filter(Boolean).pop()!);
    assert.equal(out.zeros, (16 * PAGE - keep) / PAGE, "every page past the new end reads as zeros");
    assert.equal(out.faulted, true);
    assert.equal(out.flushError, "ERR_MEMMAP_TRUNCATED");
    assert.equal(out.unmapError, "ERR_MEMMAP_TRUNCATED");
    assert.equal(out.faults.length, 1, "the fault was reported once");
    assert.deepEqual(out.faults[0].slice(0, 2), [keep, 16 * PAGE - keep], "with the byte range that is gone");
    assert.equal(readFileSync(p).length, keep, "the writes past the end went nowhere");
  });
}

test("a read mapping truncated underneath reads zeros and flushes without error", ONLY, async () => {
  const t = tempDir();
  const p = t.file("ro.bin", pattern(8 * PAGE));
  const r = await withPause("fault-truncated-read.mjs", { path: p, page: PAGE }, () => truncateSync(p, 2 * PAGE));
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  const out = JSON.parse(r.stdout.split("\n").filter(Boolean).pop()!);
  assert.deepEqual(out, { faulted: true, tail: 0 });
});

test("a file truncated by another process while the child reads it in a loop", ONLY, async () => {
  const t = tempDir();
  const p = t.file("loop.bin", pattern(32 * PAGE));
  // Made once the truncating process has ended (or failed to start): from
  // then on every read past the new end faults.
  const truncated = join(t.dir, "truncated");
  const r = await withPause("fault-truncated-loop.mjs", { path: p, page: PAGE, truncated }, () => {
    // The truncation comes from a separate process.
    const c = spawn("truncate", ["-s", "0", p]);
    const done = () => writeFileSync(truncated, "");
    c.once("close", done);
    c.once("error", done);
  });
  assert.equal(r.signal, null, `${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /"faulted":true/);
});

test("a SIGBUS that is not memmap's still ends the process the default way", ONLY, () => {
  const r = runChild(`
    import { mapAnonymous } from "memmap";
    const m = mapAnonymous(4096); // the guard is installed
    m.buffer[0] = 1;
    process.kill(process.pid, "SIGBUS");
    // Not a readiness wait: the signal ends the process before kill()
    // returns; if it did not, the child says so (after a minute, long past).
    await new Promise((resolve) => setTimeout(resolve, 60_000));
    console.log("survived");
  `);
  assert.equal(r.signal, "SIGBUS", ended(r));
  assert.doesNotMatch(r.stdout, /survived/);
});

test("OutputFile: a temporary file truncated under the writer fails the commit, never the process", ONLY, () => {
  const t = tempDir();
  const dest = t.file("out.bin", "old");
  const r = runChild(`
    import { createOutput } from "memmap";
    import { truncateSync } from "node:fs";
    const out = createOutput(${JSON.stringify(dest)}, { size: 16 * ${PAGE} });
    truncateSync(out.writePath, ${PAGE});
    out.buffer.fill(1);
    try { out.commitSync(); console.log("committed"); } catch (e) { console.log("commit failed:", e.code); }
  `);
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /commit failed: ERR_MEMMAP_TRUNCATED/);
  assert.equal(readFileSync(dest, "utf8"), "old", "the destination keeps its content");
  assert.deepEqual(readdirSync(t.dir), ["out.bin"], "the temporary file was removed");
});

for (const [label, listener, expectListener] of [
  ["added and removed again", "removed", false],
  ["left installed", "left", true],
  ["added before memmap was imported", "early", true],
] as const) {
  test(`a SIGBUS listener ${label} does not switch the guard off, and kill -BUS still reaches a listener`, ONLY, () => {
    const t = tempDir();
    const p = t.file("victim.bin", pattern(16 * PAGE));
    const r = spawnSync(process.execPath, [join(root, "test", "fixtures", "fault-sigbus-listener.mjs"), JSON.stringify({ path: p, page: PAGE, listener, expectListener })],
      { cwd: root, encoding: "utf8", timeout: 30_000 });
    const res = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    assert.equal(r.signal, null, `killed by ${r.signal} (SIGTERM: still spinning after 30 s) ${ended(res)}`);
    assert.equal(r.status, 0, ended(res));
    assert.match(r.stdout, /read after truncation, sum 0 faulted true/, ended(res));
    if (expectListener) assert.match(r.stdout, /listener heard 1/, ended(res));
  });
}

test("a SIGBUS listener added on the main thread when only a worker loaded memmap does not switch the guard off (the keeper takes the signal back)", ONLY, () => {
  const t = tempDir();
  const p = t.file("victim.bin", pattern(16 * PAGE));
  const params = { path: p, url: pathToFileURL(join(root, "dist", "index.js")).href, page: PAGE };
  const r = spawnSync(process.execPath, [join(root, "test", "fixtures", "fault-worker-listener.mjs"), JSON.stringify(params)], { cwd: root, encoding: "utf8", timeout: 30_000 });
  const res = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  assert.equal(r.signal, null, `killed by ${r.signal} (SIGTERM: still spinning after 30 s) ${ended(res)}`);
  assert.equal(r.status, 0, ended(res));
  assert.match(r.stdout, /read after truncation, sum 0 faulted true/, ended(res));
});

test("after a truncation: prefetch() reads the zeros in and says faulted, resize() is ERR_MEMMAP_TRUNCATED", ONLY, () => {
  const t = tempDir();
  const p = t.file("victim.bin", pattern(16 * PAGE));
  const r = runFixture("fault-prefetch-resize.mjs", { path: p, page: PAGE });
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /prefetch: ok faulted: true byte past the end: 0/, ended(r));
  assert.match(r.stdout, /resize: ERR_MEMMAP_TRUNCATED/, ended(r));
});

test("a character device mapping (/dev/zero) resizes like mmap maps it: to any length", ONLY, () => {
  const m = map("/dev/zero", { length: PAGE });
  m.resize(4 * PAGE);
  assert.equal(m.byteLength, 4 * PAGE);
  assert.equal(m.buffer[3 * PAGE], 0);
  m.unmap();
  // Each shared mmap of /dev/zero is new memory: a write mapping's bytes move with it.
  for (const access of ["write", "read", "copy"] as const) {
    for (const to of [PAGE / 2 + 123, 2 * PAGE, 8 * PAGE]) {
      const w = map("/dev/zero", { access, length: 2 * PAGE });
      const held = w.buffer; // a live slab: the range is retired, not moved
      held.fill(0x5a);
      w.resize(to);
      const kept = w.buffer.subarray(0, Math.min(2 * PAGE, to));
      assert.ok(kept.every((b) => b === 0x5a), `${access} /dev/zero resized to ${to}: the bytes written before are kept`);
      w.unmap();
    }
  }
});

test("onFault: told once for a range that is gone, however many pages a thread-pool job faults, and never lost at unmap()", ONLY, () => {
  const t = tempDir();
  const p = t.file("victim.bin", pattern(2048 * PAGE));
  const q = t.file("victim2.bin", pattern(16 * PAGE));
  const r = runFixture("fault-onfault-pool.mjs", { path: p, path2: q, page: PAGE });
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /calls while open: 1 after unmap: 1 last: \[0,8388608,2048\]/, ended(r));
  // The 12 pages past the new end, replaced at the one touch.
  assert.match(r.stdout, /same tick: \[\[16384,12,true\]\]/, ended(r));
});
