// Issue 7's trial: the round-trip latency of a ping-pong between two
// processes through shared memory (notify + wait), against a MessageChannel
// between two worker threads and a Unix-domain socket between two processes.
// Each driver times only the exchanges, not the start of its peer.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { Worker, MessageChannel } from "node:worker_threads";
import { openShared, unlinkShared } from "memmap";

export const title = "ping-pong: 10,000 round trips (ms / 10 = µs per round trip); MessageChannel is between two threads, the rest between two processes";
export const baseline = "memmap notify + waitAsync";
const N = 10_000;
const root = new URL("..", import.meta.url);

function peer(code) {
  return spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: new URL("..", root), stdio: ["ignore", "inherit", "inherit"] });
}

async function shared(blocking) {
  const name = `memmap-bench-${process.pid}`;
  const box = openShared(name, { size: 4096, exclusive: true });
  const a = new Int32Array(box.buffer.buffer, box.buffer.byteOffset, 4);
  const child = peer(`
    import { openShared } from "memmap";
    const box = openShared(${JSON.stringify(name)}, { create: false });
    const a = new Int32Array(box.buffer.buffer, box.buffer.byteOffset, 4);
    Atomics.store(a, 2, 1); box.notify(2); // ready
    for (let i = 1; i <= ${N}; i++) {
      while (Atomics.load(a, 0) !== i) ${blocking ? "box.wait(0, i - 1, Infinity, { allowMainThread: true });" : "await box.waitAsync(0, i - 1, Infinity, { persistent: true });"}
      Atomics.store(a, 1, i);
      box.notify(1);
    }
  `);
  try {
    while (Atomics.load(a, 2) !== 1) await box.waitAsync(2, 0, 1000);
    const t0 = performance.now();
    for (let i = 1; i <= N; i++) {
      Atomics.store(a, 0, i);
      box.notify(0);
      while (Atomics.load(a, 1) !== i) {
        if (blocking) box.wait(1, i - 1, Infinity, { allowMainThread: true });
        else await box.waitAsync(1, i - 1);
      }
    }
    const ms = performance.now() - t0;
    await new Promise((resolve) => child.once("exit", resolve));
    return { ms };
  } finally {
    box.unmap();
    unlinkShared(name);
  }
}

export const drivers = {
  "memmap notify + waitAsync": () => shared(false),
  "memmap notify + wait (blocking)": () => shared(true),
  async "MessageChannel (2 worker threads)"() {
    const { port1, port2 } = new MessageChannel();
    const w = new Worker(`
      const { workerData } = require("node:worker_threads");
      workerData.port.on("message", (i) => { workerData.port.postMessage(i); if (i === ${N}) workerData.port.close(); });
    `, { eval: true, workerData: { port: port2 }, transferList: [port2] });
    await new Promise((resolve) => w.once("online", resolve));
    const t0 = performance.now();
    for (let i = 1; i <= N; i++) {
      port1.postMessage(i);
      await new Promise((resolve) => port1.once("message", resolve));
    }
    const ms = performance.now() - t0;
    port1.close();
    await w.terminate();
    return { ms };
  },
  async "Unix-domain socket (2 processes)"({ workdir }) {
    const path = join(workdir, "s.sock");
    const server = createServer();
    await new Promise((resolve) => server.listen(path, resolve));
    const child = peer(`
      import { connect } from "node:net";
      const s = connect(${JSON.stringify(path)});
      s.on("data", (d) => s.write(d));
      s.on("end", () => s.end());
    `);
    const sock = await new Promise((resolve) => server.once("connection", resolve));
    sock.setNoDelay(true);
    const t0 = performance.now();
    for (let i = 1; i <= N; i++) {
      sock.write("p");
      await new Promise((resolve) => sock.once("data", resolve));
    }
    const ms = performance.now() - t0;
    sock.end();
    await new Promise((resolve) => child.once("exit", resolve));
    server.close();
    return { ms };
  },
};
