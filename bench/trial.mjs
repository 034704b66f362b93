// Runs one driver of one trial in this (fresh) process and prints one JSON
// line: the timed milliseconds and the process's peak RSS.
// Usage: node bench/trial.mjs <trial> <driver> <workdir> [variant index]
// A driver may return { ms } to report its own timing (the C reference does).
import { performance } from "node:perf_hooks";
import { readFileSync, statSync } from "node:fs";

const [trialName, driverName, workdir, variantIndex] = process.argv.slice(2);
const trial = await import(new URL(`./trials/${trialName}.mjs`, import.meta.url));
const driver = trial.drivers[driverName];
if (!driver) throw new Error(`no driver ${driverName} in ${trialName}`);
// RssAnon: private memory, without the file pages a mapping makes resident.
// Drivers call ctx.mark() at their high-water point (before writing out).
const rssAnonKiB = () => {
  const m = /RssAnon:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) : 0;
};
let peakAnonKiB = rssAnonKiB();
const variant = variantIndex === undefined ? undefined : trial.variants[Number(variantIndex)];
const ctx = { workdir, mark() { peakAnonKiB = Math.max(peakAnonKiB, rssAnonKiB()); }, ...(trial.setup ? await trial.setup(workdir, variant) : {}) };
const t0 = performance.now();
const check = await driver(ctx);
let ms = performance.now() - t0;
if (check && typeof check === "object" && typeof check.ms === "number") ms = check.ms;
ctx.mark();
const maxRssKiB = process.resourceUsage().maxRSS; // before verify() reads anything back
if (trial.verify) await trial.verify(ctx, check);
// Is the process still healthy? The same unrelated work after every driver:
// 100,000 fs.statSync calls. (A million native view objects once made this
// hundreds of times slower.)
const h0 = performance.now();
for (let i = 0; i < 100_000; i++) statSync(workdir);
const afterMs = performance.now() - h0;
console.log(JSON.stringify({ ms, maxRssKiB, peakAnonKiB, afterMs }));
