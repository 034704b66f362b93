#!/usr/bin/env node
// Soak: 4 worker threads map, write, flush and drop mappings (some unmapped,
// some left to the garbage collector) for a while; the main thread samples
// RSS and the process's mapping count. At the end: the samples, the error
// count, and whether memory stayed flat. Not part of CI.
// Usage: npm run soak [-- --seconds 60] [-- --workers 4]
import { Worker } from "node:worker_threads";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "60" }, workers: { type: "string", default: "4" } } });
const seconds = Number(values.seconds);
const workers = Number(values.workers);
const dir = mkdtempSync(join(tmpdir(), "memmap-soak-"));
const memmap = new URL("../dist/index.js", import.meta.url).href;

const code = `
  const { workerData, parentPort } = require("node:worker_threads");
  import(workerData.memmap).then(async ({ map, mapAnonymous, createOutput }) => {
    const { writeFileSync } = require("node:fs");
    const path = workerData.dir + "/w" + workerData.id + ".bin";
    writeFileSync(path, Buffer.alloc(1 << 20, workerData.id));
    let ops = 0, errors = 0, lastError = "";
    const end = Date.now() + workerData.seconds * 1000;
    while (Date.now() < end) {
      for (let i = 0; i < 200; i++) {
        try {
          const kind = ops % 4;
          if (kind === 0) {
            const m = map(path, { access: "write", offset: (ops * 4093) % 1000000, length: 8192 });
            m.buffer.fill(ops & 0xff);
            m.flushSync({ offset: 0, length: 4096 });
            if (ops % 3) m.unmap(); // the rest is left to the GC
          } else if (kind === 1) {
            const m = map(path, { length: 65536 });
            if (m.buffer[100] === undefined) throw new Error("empty view");
            m.unmap();
          } else if (kind === 2) {
            const a = mapAnonymous(64 << 10);
            a.buffer.fill(1);
          } else {
            const out = createOutput(path + ".out", { size: 16384 });
            out.write(0, "soak");
            out.append("tail");
            out.commitSync();
          }
        } catch (e) {
          errors++;
          lastError = String(e && e.stack || e);
        }
        ops++;
      }
      await new Promise((resolve) => setImmediate(resolve)); // let finalizers and flushes run
    }
    parentPort.postMessage({ ops, errors, lastError });
  });
`;

const sample = () => {
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMiB: kib("VmRSS") / 1024, anonMiB: kib("RssAnon") / 1024, maps: readFileSync("/proc/self/maps", "utf8").split("\n").length - 1 };
};

const samples = [];
const timer = setInterval(() => samples.push(sample()), Math.max(1000, (seconds * 1000) / 20));
const results = await Promise.all(
  Array.from({ length: workers }, (_, id) => new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { memmap, dir, id, seconds } });
    w.once("message", resolve);
    w.once("error", reject);
  })),
);
clearInterval(timer);
samples.push(sample());
rmSync(dir, { recursive: true, force: true });

const ops = results.reduce((s, r) => s + r.ops, 0);
const errors = results.reduce((s, r) => s + r.errors, 0);
const half = samples.slice(Math.floor(samples.length / 2));
const firstHalfMax = Math.max(...samples.slice(0, Math.max(1, Math.floor(samples.length / 2))).map((s) => s.rssMiB));
const secondHalfMax = Math.max(...half.map((s) => s.rssMiB));
console.log(`soak: ${workers} workers, ${seconds} s, ${ops} operations, ${errors} errors`);
for (const s of samples) console.log(`  rss ${s.rssMiB.toFixed(1)} MiB  anon ${s.anonMiB.toFixed(1)} MiB  mappings ${s.maps}`);
console.log(`peak RSS: first half ${firstHalfMax.toFixed(1)} MiB, second half ${secondHalfMax.toFixed(1)} MiB (${secondHalfMax <= firstHalfMax * 1.2 ? "flat" : "GROWING"})`);
for (const r of results) if (r.errors) console.log(`last error: ${r.lastError}`);
process.exitCode = errors === 0 && secondHalfMax <= firstHalfMax * 1.2 ? 0 : 1;
