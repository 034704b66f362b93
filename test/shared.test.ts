// Shared memory between threads and processes, and wait/notify across them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { spawn } from "node:child_process";
import { closeSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { attach, mapAnonymous, openShared, unlinkShared, type SharedHandle } from "memmap";
import { darwinRules, ended, nativeOnly, portable, root, runFixture, tempDir, notOnWindows, skipIf, testAddonPath, onWindows } from "./helpers.js";
// @ts-expect-error: a fixture of the tests', in plain JavaScript
import { untilThreadIn } from "./fixtures/threads.mjs";

const ONLY = nativeOnly("shared memory cannot be made from JavaScript; the portable backend refuses it with ENOTSUP (tested below)");
const DIST = pathToFileURL(join(root, "dist", "index.js")).href;

function inWorker<T>(code: string, workerData: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = new Worker(`
      const { workerData, parentPort } = require("node:worker_threads");
      import(${JSON.stringify(DIST)}).then(async (memmap) => { ${code} }).catch((e) => { throw e; });
    `, { eval: true, workerData });
    w.once("message", resolve);
    w.once("error", reject);
    w.once("exit", (c) => c !== 0 && reject(new Error(`worker exited with ${c}`)));
  });
}

function uniqueName(): string {
  return `memmap-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
}

test("two worker threads doing 1,000,000 Atomics.add each on one shared counter end at exactly 2,000,000", ONLY, async () => {
  const m = mapAnonymous(4096, { shared: true });
  const h = m.share();
  await Promise.all([0, 1].map(() => inWorker(`
    const m = memmap.attach(workerData);
    const a = new Int32Array(m.buffer.buffer, m.buffer.byteOffset, 16);
    for (let i = 0; i < 1_000_000; i++) Atomics.add(a, 0, 1);
    m.unmap();
    parentPort.postMessage("done");
  `, h)));
  const a = new Int32Array(m.buffer.buffer, m.buffer.byteOffset, 16);
  assert.equal(Atomics.load(a, 0), 2_000_000);
  m.unmap();
});

test("a worker that unmaps first leaves the main thread's mapping intact", ONLY, async () => {
  const m = mapAnonymous(8192, { shared: true });
  m.buffer.write("from main", 0);
  const seen = await inWorker<string>(`
    const m = memmap.attach(workerData);
    const text = m.buffer.toString("utf8", 0, 9);
    m.buffer.write("from wrkr", 100);
    m.unmap();
    parentPort.postMessage(text);
  `, m.share());
  assert.equal(seen, "from main");
  assert.equal(m.buffer.toString("utf8", 100, 109), "from wrkr");
  m.buffer.write("still mine", 200);
  assert.equal(m.buffer.toString("utf8", 200, 210), "still mine");
  m.unmap();
});

test("a worker holding the memory after the main thread unmapped it keeps using it", ONLY, async () => {
  const m = mapAnonymous(4096, { shared: true });
  const h = m.share();
  const { port1, port2 } = new MessageChannel();
  const done = new Promise<string>((resolve, reject) => {
    const w = new Worker(`
      const { workerData, parentPort } = require("node:worker_threads");
      import(${JSON.stringify(DIST)}).then((memmap) => {
        const m = memmap.attach(workerData.h);
        workerData.port.postMessage("attached");
        workerData.port.once("message", () => {
          m.buffer.write("still here", 200);
          const text = m.buffer.toString("utf8", 200, 210);
          m.unmap(); // the last mapping of it
          workerData.port.close();
          parentPort.postMessage(text);
        });
      });
    `, { eval: true, workerData: { h, port: port2 }, transferList: [port2] });
    w.once("message", resolve);
    w.once("error", reject);
  });
  await new Promise((resolve) => port1.once("message", resolve));
  m.unmap(); // main goes first
  port1.postMessage("go");
  assert.equal(await done, "still here");
  port1.close();
  assert.throws(() => attach(h), { code: "ERR_MEMMAP_GONE" }, "once every mapping is gone, so is the memory");
});

test("a child process given the mapping's fd through stdio maps the same memory", skipIf(ONLY, notOnWindows("shared memory is a section there, which a descriptor does not carry to a child; openShared() by name does")), async () => {
  const m = mapAnonymous(4096, { shared: true });
  m.buffer.write("from parent", 0);
  const child = spawn(process.execPath, ["--input-type=module", "-e", `
    import { map } from "memmap";
    const m = map(3, { access: "write" });
    process.stdout.write(m.buffer.toString("utf8", 0, 11));
    m.buffer.write("from child", 100);
    m.unmap();
  `], { cwd: root, stdio: ["ignore", "pipe", "inherit", m.fd] });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => (out += d));
  const code = await new Promise((resolve) => child.once("close", resolve)); // "close": all of its output read
  assert.equal(code, 0);
  assert.equal(out, "from parent");
  assert.equal(m.buffer.toString("utf8", 100, 110), "from child");
  m.unmap();
});

test("a parent and a child process exchange 10,000 messages through named shared memory with notify/waitAsync, none lost or duplicated", skipIf(ONLY, notOnWindows("WaitOnAddress wakes waiters of this process only: wait()/notify() do not cross processes there (docs/backends.md)")), async () => {
  const name = uniqueName();
  const m = openShared(name, { size: 4096, exclusive: true });
  try {
    const a = new Int32Array(m.buffer.buffer, m.buffer.byteOffset, 16);
    // [0]: sequence number parent -> child, [1]: payload, [2]: child's ack, [3]: child -> parent payload
    const child = spawn(process.execPath, [join(root, "test", "fixtures", "shared-pingpong.mjs"), JSON.stringify({ name })], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve)); // "close": all of its output read
    let bad = 0;
    for (let i = 1; i <= 10000; i++) {
      Atomics.store(a, 1, i * 7);
      Atomics.store(a, 0, i);
      m.notify(0);
      for (let ack = Atomics.load(a, 2); ack !== i; ack = Atomics.load(a, 2)) {
        if (ack > i) { bad++; break; }
        await m.waitAsync(2, ack, 10000);
      }
      if (Atomics.load(a, 3) !== i * 11) bad++;
    }
    assert.equal(await exited, 0);
    assert.equal(bad, 0, "the parent saw every reply once, in order");
    assert.deepEqual(JSON.parse(out), { bad: 0 }, "the child saw every message once, in order");
  } finally {
    m.unmap();
    unlinkShared(name);
  }
});

test("named shared memory: the same name is the same memory; bad names, sizes and exclusive give clear errors", ONLY, () => {
  const name = uniqueName();
  const a = openShared(name, { size: 10_000 });
  const b = openShared(`/${name}`, { create: false });
  assert.equal(b.byteLength, 10_000);
  a.buffer.write("same memory", 0);
  assert.equal(b.buffer.toString("utf8", 0, 11), "same memory");
  assert.throws(() => openShared(name, { exclusive: true }), { code: "EEXIST", syscall: "shm_open" });
  for (const bad of ["", "a/b", "../x", ".", "..", "x".repeat(201), "with space", "nul\u0000"]) {
    assert.throws(() => openShared(bad), { code: "ERR_INVALID_ARG_VALUE" }, JSON.stringify(bad));
  }
  assert.throws(() => openShared(42 as never), { code: "ERR_INVALID_ARG_TYPE" });
  assert.throws(() => openShared(uniqueName(), { size: -1 }), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => openShared(uniqueName(), { create: false }), { code: "ENOENT" });
  if (onWindows) {
    // A section is made with its size; Local\ is the default namespace.
    assert.throws(() => openShared(uniqueName()), { code: "ERR_INVALID_ARG_VALUE", message: /options\.size/ });
    const c = openShared(`Local\\${name}`, { create: false });
    assert.equal(c.buffer.toString("utf8", 0, 11), "same memory");
    assert.throws(() => c.resize(20_000), { code: "ENOTSUP", message: /size is fixed/ });
    c.unmap();
  }
  // Unlinked while mapped: the mappings stay valid (POSIX removes the name at
  // once; Windows' name goes with the last handle, below).
  unlinkShared(name);
  assert.equal(b.buffer.toString("utf8", 0, 11), "same memory");
  a.unmap();
  b.unmap();
  assert.throws(() => unlinkShared(name), { code: "ENOENT" });
});

test("wait and notify: outcomes, the main thread, unmap during waitAsync, bad indexes", ONLY, async () => {
  const m = mapAnonymous(64, { shared: true });
  const a = new Int32Array(m.buffer.buffer, m.buffer.byteOffset, 16);
  assert.equal(await m.waitAsync(0, 1), "not-equal");
  assert.equal(await m.waitAsync(0, 0, 10, { persistent: true }), "timed-out");
  assert.equal(await m.waitAsync(0, 0, 0), "timed-out");
  const woken = m.waitAsync(1, 0);
  // Not a readiness wait: a moment for the waiter thread to start, which it
  // may or may not take; the result holds either way ("ok" or "not-equal").
  await new Promise((resolve) => setTimeout(resolve, 0));
  Atomics.store(a, 1, 5);
  m.notify(1);
  assert.ok(["ok", "not-equal"].includes(await woken));
  assert.throws(() => m.wait(0, 0, 10), { code: "ERR_MEMMAP_BLOCKING" });
  assert.equal(m.wait(0, 0, 10, { allowMainThread: true }), "timed-out");
  assert.throws(() => m.notify(16), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => m.notify(-1), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => m.notify(1.5), { code: "ERR_OUT_OF_RANGE" });
  const pending = m.waitAsync(2, 0);
  assert.throws(() => m.resize(8192), { code: "ERR_MEMMAP_BUSY", message: /while a waitAsync\(\) is pending/ });
  m.unmap();
  await assert.rejects(pending, { code: "ERR_MEMMAP_CLOSED" });
  assert.throws(() => mapAnonymous(10).share(), { code: "ERR_MEMMAP_NOT_SHAREABLE" });
  assert.throws(() => attach({ kind: "nope" } as unknown as SharedHandle), { code: "ERR_INVALID_ARG_TYPE" });
});

test("share() after the mapping's descriptor was closed is EBADF shaped like an fs error, as resize() is",
  skipIf(ONLY, notOnWindows("a shared mapping's fd is -1 there: there is no descriptor to close")), () => {
    const m = mapAnonymous(4096, { shared: true });
    closeSync(m.fd);
    for (const [how, call] of [["share()", () => m.share()], ["resize()", () => m.resize(8192)]] as const) {
      assert.throws(call, (e: NodeJS.ErrnoException) => {
        assert.equal(e.code, "EBADF", how);
        assert.equal(e.errno, -osConstants.errno.EBADF, `${how}: errno negative, as Node's`);
        assert.equal(e.syscall, "fstat", how);
        assert.equal(e.message, "EBADF: bad file descriptor, fstat", how);
        assert.equal(e.path, undefined, `${how}: anonymous memory has no path`);
        return true;
      });
    }
    m.unmap();
  });

test("the portable backend refuses shared memory with ENOTSUP", { skip: portable ? false : "portable backend only" }, () => {
  assert.throws(() => mapAnonymous(10, { shared: true }), { code: "ENOTSUP" });
  assert.throws(() => openShared(uniqueName(), { size: 10 }), { code: "ENOTSUP" });
  assert.throws(() => mapAnonymous(10).notify(0), { code: "ENOTSUP" });
});

test("a pending waitAsync never holds up process.exit() or worker.terminate()", { ...ONLY, timeout: 120_000 }, async () => {
  // A wait is on a waiter thread, which neither exit nor termination waits for.
  const { spawnSync } = await import("node:child_process");
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", `
    import { mapAnonymous } from "memmap";
    const m = mapAnonymous(4096, { shared: true });
    m.waitAsync(0, 0, Infinity, { persistent: true }); // would wait forever
    setImmediate(() => { console.log("exiting"); process.exit(0); });
  `], { cwd: root, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.signal, null, "process.exit() finished (the guard timeout did not have to kill it)");
  assert.equal(r.status, 0);
  assert.match(r.stdout, /exiting/);
  const m = mapAnonymous(4096, { shared: true });
  for (let i = 0; i < 3; i++) {
    const w = new Worker(`
      const { workerData, parentPort } = require("node:worker_threads");
      import(${JSON.stringify(DIST)}).then(({ attach }) => {
        globalThis.m = attach(workerData);
        globalThis.m.waitAsync(0, 0, Infinity, { persistent: true });
        parentPort.postMessage("waiting");
      });
    `, { eval: true, workerData: m.share() });
    await new Promise((resolve) => w.once("message", resolve));
    assert.equal(await w.terminate(), 1);
  }
  m.unmap();
});

test("waitAsync() keeps the process alive only when persistent, like Atomics.waitAsync, and a wait on a collected mapping ends", { ...ONLY, timeout: 120_000 }, async () => {
  const { spawnSync } = await import("node:child_process");
  const child = (code: string) => spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", code], { cwd: root, encoding: "utf8", timeout: 60_000 });
  // Pending, not persistent: the process ends on its own, as with Atomics.waitAsync.
  let r = child(`
    import { mapAnonymous } from "memmap";
    globalThis.m = mapAnonymous(4096, { shared: true });
    m.waitAsync(0, 0).then((v) => console.log("settled", v));
    m.waitAsync(0, 0, 500).then((v) => console.log("settled", v));
    Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0).value.then((v) => console.log("settled", v));
    process.on("exit", () => console.log("exited"));
  `);
  assert.equal(r.signal, null, `the process ended on its own (not killed after 60 s)\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "exited\n");
  // Persistent: the process stays until the wait ends.
  r = child(`
    import { mapAnonymous } from "memmap";
    globalThis.m = mapAnonymous(4096, { shared: true });
    m.waitAsync(0, 0, 300, { persistent: true }).then((v) => console.log("settled", v));
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "settled timed-out\n");
  // A persistent wait on a mapping nobody holds ends when the mapping is
  // collected (a spurious wake-up: "ok"), and then keeps nothing alive.
  r = child(`
    import { mapAnonymous } from "memmap";
    const gc = globalThis.gc ?? (() => globalThis.Bun.gc(true));
    mapAnonymous(4096, { shared: true }).waitAsync(0, 0, Infinity, { persistent: true }).then(
      (v) => console.log("settled", v), (e) => console.log("rejected", e.code));
    setTimeout(gc, 10); // not a readiness wait: collected before or after its thread waits, the wait ends the same
  `);
  assert.equal(r.signal, null, `the process ended on its own (not killed after 60 s)\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "settled ok\n");
});

test("waitAsync() holds no thread-pool thread: a wait is woken from another process while the only pool thread is blocked", { ...ONLY, timeout: 120_000 }, async () => {
  const { spawnSync } = await import("node:child_process");
  const t = tempDir();
  const fifo = t.file("pipe");
  if (spawnSync("mkfifo", [fifo]).status !== 0) {
    return;
  }
  const name = uniqueName();
  const r = spawnSync(process.execPath, [join(root, "test", "fixtures", "shared-pool-blocked.mjs"), JSON.stringify({ fifo, name })], { cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, UV_THREADPOOL_SIZE: "1" } });
  assert.equal(r.signal, null, `the waits ended (the child was not killed after 60 s)\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "ok ok ok ok\n");
});

test("a worker blocked in wait() never holds up worker.terminate() or process.exit()", { ...ONLY, timeout: 120_000 }, async () => {
  const { spawnSync } = await import("node:child_process");
  // worker.terminate() while the worker waits forever in wait(). The worker
  // says which thread it is; the test waits until that thread is in the
  // wait's futex (FUTEX_WAIT, op 0: test/fixtures/threads.mjs). Where threads
  // cannot be seen (Windows, macOS), a pause instead: terminate() must work
  // whether the wait has begun or not, the pause makes it likelier that it has.
  const m = mapAnonymous(4096, { shared: true });
  const w = new Worker(new URL("./fixtures/shared-wait-worker.mjs", import.meta.url), { workerData: m.share() });
  const tid = await new Promise<number | null>((resolve) => w.once("message", resolve));
  if (!(await untilThreadIn(tid, "futex", undefined, 0))) await new Promise((resolve) => setTimeout(resolve, 100)); // into the wait
  assert.equal(await w.terminate(), 1);
  m.unmap();
  // process.exit() on the main thread while a worker waits forever.
  const r = spawnSync(process.execPath, [join(root, "test", "fixtures", "shared-wait-exit.mjs")], { cwd: root, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.signal, null, `process.exit() finished (the 60 s guard did not have to kill it): ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /exiting/);
});

test("a waitAsync() thread whose wait calls fail sleeps in slices and looks again: it never spins, and the wait still ends", ONLY, () => {
  // What a system without a wait primitive that works looks like (macOS
  // without os_sync or ulock): the test build makes every wait call of the
  // waiter threads fail and counts them. Before, the idle loop retried at
  // once, at 100% CPU for good; a thread that spins makes millions of calls
  // in the 300 ms this waits, one that sleeps 50 ms slices a handful.
  // The two 300 ms pauses are not readiness waits but the windows the calls
  // are counted in: longer ones (a loaded machine) only let a sleeping thread
  // make a few more, a spinning one still millions. What the first needs
  // ready, the waiter thread making its (failing) wait calls, is waited for.
  const r = runFixture("shared-failing-waits.mjs", { addon: testAddonPath }, [], { MEMMAP_TEST_ADDON: "1" });
  assert.equal(r.status, 0, ended(r));
  const got = /result (\S+) calls (\d+)/.exec(r.stdout);
  assert.ok(got, ended(r));
  assert.equal(got[1], "ok", "the wait ended when the word changed, found by looking again");
  const calls = Number(got[2]);
  assert.ok(calls > 0, "the failing wait calls were made (the switch works)");
  assert.ok(calls < 1000, `${calls} wait calls in 600 ms: the thread spins`);
});

test("openShared() names: what the system allows, and a clear ENAMETOOLONG past macOS's 31 bytes there", skipIf(ONLY, notOnWindows("a section's name is not a POSIX shared memory name")), () => {
  const long = `memmap-long-${process.pid}-${"x".repeat(30)}`; // 50 bytes or so
  if (darwinRules) {
    assert.throws(() => openShared(long, { size: 4096, exclusive: true }), { code: "ENAMETOOLONG", syscall: "shm_open", message: /macOS: 30 bytes/ });
  } else {
    const m = openShared(long, { size: 4096, exclusive: true });
    m.buffer[0] = 1;
    m.unmap();
    unlinkShared(long);
  }
  const short = `mm-${process.pid}`; // fits everywhere
  const m = openShared(short, { size: 4096, exclusive: true });
  assert.equal(m.byteLength, 4096);
  m.unmap();
  unlinkShared(short);
});
