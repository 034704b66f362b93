// Issue 11's trial: what pending waitAsync() calls cost unrelated work.
// 1,000 sequential fs.promises.stat calls (ms = µs per call) while N waits
// are pending, each on a word of its own. Atomics.waitAsync is the reference.
import { stat } from "node:fs/promises";
import { mapAnonymous } from "memmap";

export const title = "fs.promises.stat with waits pending: 1,000 sequential calls (ms = µs per call)";
export const baseline = "no pending waits";
const CALLS = 1000;
export const note = "Before memmap's waiter threads (commit 256f17b), a pending waitAsync() held a thread-pool thread in 50 ms slices: with 4 pending, the same 1,000 calls took 19,225 ms (19 ms a call; one run), and the 64-wait run did not end within 10 minutes.";

async function stats(workdir) {
  for (let i = 0; i < 10; i++) await stat(workdir); // warm-up: the pool's threads start
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) await stat(workdir);
  return performance.now() - t0;
}

async function withMemmapWaits(n, workdir) {
  const m = mapAnonymous(4 * n, { shared: true });
  const waits = [];
  for (let i = 0; i < n; i++) waits.push(m.waitAsync(i, 0));
  const ms = await stats(workdir);
  const a = new Int32Array(m.buffer.buffer, m.buffer.byteOffset, n);
  for (let i = 0; i < n; i++) {
    Atomics.store(a, i, 1);
    m.notify(i);
  }
  const outcomes = await Promise.all(waits);
  if (outcomes.some((o) => o === "timed-out")) throw new Error("a wait timed out");
  m.unmap();
  return { ms };
}

async function withAtomicsWaits(n, workdir) {
  const a = new Int32Array(new SharedArrayBuffer(4 * n));
  const waits = [];
  for (let i = 0; i < n; i++) waits.push(Atomics.waitAsync(a, i, 0).value);
  const ms = await stats(workdir);
  for (let i = 0; i < n; i++) Atomics.notify(a, i);
  await Promise.all(waits);
  return { ms };
}

export const drivers = {
  async "no pending waits"({ workdir }) {
    return { ms: await stats(workdir) };
  },
  "4 memmap waitAsync pending": ({ workdir }) => withMemmapWaits(4, workdir),
  "64 memmap waitAsync pending": ({ workdir }) => withMemmapWaits(64, workdir),
  "4 Atomics.waitAsync pending": ({ workdir }) => withAtomicsWaits(4, workdir),
  "64 Atomics.waitAsync pending": ({ workdir }) => withAtomicsWaits(64, workdir),
};
