// The fault guard: a file that shrinks under a mapping cannot kill the
// process. Each dangerous access happens in a child; the test checks how the
// child ended and what it saw.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, truncateSync } from "node:fs";
import { map } from "memmap";
import { ended, nativeOnly, pattern, root, runChild, tempDir } from "./helpers.js";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const ONLY = process.platform === "win32"
  ? { skip: "Windows: a mapped file cannot be truncated there (fs says UNKNOWN for ERROR_USER_MAPPED_FILE), and these tests drive POSIX signals; the Windows guard is described in docs/backends.md" }
  : nativeOnly("the portable backend holds the bytes in memory: nothing can fault (docs/backends.md)");
const PAGE = 4096;

/**
 * Starts `code` in a child that maps, prints "mapped", waits for one line on
 * stdin, then goes on; the parent runs `between` in that gap.
 */
async function withPause(code: string, between: () => void) {
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
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
  const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once("exit", (c, s) => resolve([c, s])));
  return { status, signal, stdout, stderr };
}

// Child code: say "mapped", then wait for the parent's line (see withPause).
const pause = `console.log("mapped"); await new Promise((resolve) => process.stdin.once("data", resolve)); process.stdin.pause();`;

// Child code: map the file read-only, then pause.
const mapThenPause = (p: string): string => `import { map } from "memmap"; const m = map(${JSON.stringify(p)}); ${pause}`;

for (const [label, keep] of [["to 0", 0], ["to half", 8 * PAGE]] as const) {
  test(`a write mapping whose file is truncated ${label}: every page read and written, the child lives and is told`, ONLY, async () => {
    const t = tempDir();
    const p = t.file("victim.bin", pattern(16 * PAGE));
    const r = await withPause(`
      import { map } from "memmap";
      const faults = [];
      const m = map(${JSON.stringify(p)}, { access: "write", onFault: (f) => faults.push([f.offset, f.length, f.pages]) });
      const b = m.buffer;
      ${pause}
      let zeros = 0;
      for (let i = 0; i < b.length; i += ${PAGE}) {
        if (i >= ${keep} && b[i] === 0 && b[i + 100] === 0) zeros++;
        b[i] = 0xaa; // a write into every page
      }
      let flushError = null;
      try { m.flushSync(); } catch (e) { flushError = e.code; }
      for (let i = 0; i < 100 && faults.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
      let unmapError = null;
      try { m.unmap(); } catch (e) { unmapError = e.code; }
      console.log(JSON.stringify({ zeros, faulted: m.faulted, faults, flushError, unmapError }));
    `, () => truncateSync(p, keep));
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
  const r = await withPause(`
    ${mapThenPause(p)}
    let sum = 0;
    for (let i = 0; i < m.byteLength; i++) sum += m.buffer[i];
    m.flushSync();
    console.log(JSON.stringify({ faulted: m.faulted, tail: m.buffer[5 * ${PAGE}] }));
    m.unmap();
  `, () => truncateSync(p, 2 * PAGE));
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  const out = JSON.parse(r.stdout.split("\n").filter(Boolean).pop()!);
  assert.deepEqual(out, { faulted: true, tail: 0 });
});

test("a file truncated by another process while the child reads it in a loop", ONLY, async () => {
  const t = tempDir();
  const p = t.file("loop.bin", pattern(32 * PAGE));
  const r = await withPause(`
    ${mapThenPause(p)}
    // Reads every page over and over until the guard has seen the truncation
    // (bounded, so that a broken guard fails instead of hanging).
    let passes = 0, sum = 0;
    while (!m.faulted && passes < 2_000_000) {
      for (let i = 0; i < m.byteLength; i += ${PAGE}) sum += m.buffer[i];
      passes++;
    }
    console.log(JSON.stringify({ faulted: m.faulted }));
  `, () => {
    // The truncation comes from a separate process.
    const c = spawn("truncate", ["-s", "0", p]);
    c.once("exit", () => undefined);
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

for (const [label, setup, expectListener] of [
  ["added and removed again", `const f = () => {}; process.on("SIGBUS", f); process.off("SIGBUS", f);`, false],
  ["left installed", `process.on("SIGBUS", () => { heard++; });`, true],
  ["added before memmap was imported", "", true],
] as const) {
  test(`a SIGBUS listener ${label} does not switch the guard off, and kill -BUS still reaches a listener`, ONLY, () => {
    const t = tempDir();
    const p = t.file("victim.bin", pattern(16 * PAGE));
    const early = label === "added before memmap was imported";
    const code = `
      let heard = 0;
      ${early ? `process.on("SIGBUS", () => { heard++; });` : ""}
      const { map } = await import("memmap");
      const { truncateSync } = await import("node:fs");
      ${setup}
      const m = map(${JSON.stringify(p)});
      const b = m.buffer;
      truncateSync(${JSON.stringify(p)}, 0);
      let sum = 0;
      for (let i = 0; i < b.length; i += ${PAGE}) sum += b[i];   // every page faults: zeros, not death
      console.log("read after truncation, sum", sum, "faulted", m.faulted);
      m.unmap();
      if (${expectListener}) {
        // A signal, not a fault: the listener hears it. Sent by another process,
        // as kill -BUS is (Bun's process.kill() of its own pid puts SIG_DFL back
        // first when the handler in place is not Bun's).
        (await import("node:child_process")).spawnSync("kill", ["-s", "BUS", String(process.pid)]);
        for (let i = 0; i < 50 && heard === 0; i++) await new Promise((res) => setTimeout(res, 10));
        console.log("listener heard", heard);
      }
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: root, encoding: "utf8", timeout: 30_000 });
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
  const code = `
    import { Worker } from "node:worker_threads";
    // An ES module: the worker inherits the child's --input-type=module.
    const w = new Worker(\`
      import { parentPort, workerData } from "node:worker_threads";
      import { truncateSync } from "node:fs";
      const { map } = await import(workerData.url);
      const m = map(workerData.p);
      parentPort.postMessage("mapped");
      parentPort.once("message", () => {
        truncateSync(workerData.p, 0);
        let sum = 0;
        const b = m.buffer;
        for (let i = 0; i < b.length; i += ${PAGE}) sum += b[i];   // faults: zeros, not a spin
        parentPort.postMessage("read after truncation, sum " + sum + " faulted " + m.faulted);
      });
    \`, { eval: true, workerData: { p: ${JSON.stringify(p)}, url: ${JSON.stringify(pathToFileURL(join(root, "dist", "index.js")).href)} } });
    await new Promise((res) => w.once("message", res));
    process.on("SIGBUS", () => {});   // the main thread never loaded memmap: nothing there sees this
    w.postMessage("go");
    console.log(await new Promise((res) => w.once("message", res)));
    process.exit(0);
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: root, encoding: "utf8", timeout: 30_000 });
  const res = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  assert.equal(r.signal, null, `killed by ${r.signal} (SIGTERM: still spinning after 30 s) ${ended(res)}`);
  assert.equal(r.status, 0, ended(res));
  assert.match(r.stdout, /read after truncation, sum 0 faulted true/, ended(res));
});

test("after a truncation: prefetch() reads the zeros in and says faulted, resize() is ERR_MEMMAP_TRUNCATED", ONLY, () => {
  const t = tempDir();
  const p = t.file("victim.bin", pattern(16 * PAGE));
  const r = runChild(`
    import { map } from "memmap";
    import { truncateSync } from "node:fs";
    const m = map(${JSON.stringify(p)});
    truncateSync(${JSON.stringify(p)}, 4 * ${PAGE});
    let prefetch;
    try { await m.prefetch(); prefetch = "ok"; } catch (e) { prefetch = e.code + " " + e.syscall; }
    console.log("prefetch:", prefetch, "faulted:", m.faulted, "byte past the end:", m.buffer[8 * ${PAGE}]);
    try { m.resize(2 * ${PAGE}); console.log("resize: ok"); } catch (e) { console.log("resize:", e.code); }
    m.unmap();
  `);
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
  const r = runChild(`
    import { map } from "memmap";
    import { truncateSync } from "node:fs";
    import { deflate } from "node:zlib";
    // A thread-pool job (zlib) reads 2,048 pages past the new end: its first
    // fault replaces them all (the guard replaces what is gone in one step),
    // so one call while it runs says all 2,048, and unmap() has nothing new.
    const calls = [];
    const m = map(${JSON.stringify(p)}, { onFault: (f) => calls.push([f.offset, f.length, f.pages]) });
    truncateSync(${JSON.stringify(p)}, 0);
    await new Promise((res, rej) => deflate(m.buffer, (e) => (e ? rej(e) : res())));
    for (let i = 0; i < 20; i++) await new Promise((res) => setImmediate(res));
    const whileOpen = calls.length;
    m.unmap();
    console.log("calls while open:", whileOpen, "after unmap:", calls.length, "last:", JSON.stringify(calls.at(-1)));
    // A fault and unmap() in the same tick: told all the same.
    const told = [];
    const m2 = map(${JSON.stringify(q)}, { onFault: (f) => told.push([f.offset, f.pages, f.mapping.closed]) });
    truncateSync(${JSON.stringify(q)}, 4 * ${PAGE});
    m2.buffer[10 * ${PAGE}];
    m2.unmap();
    console.log("same tick:", JSON.stringify(told));
  `);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /calls while open: 1 after unmap: 1 last: \[0,8388608,2048\]/, ended(r));
  // The 12 pages past the new end, replaced at the one touch.
  assert.match(r.stdout, /same tick: \[\[16384,12,true\]\]/, ended(r));
});
