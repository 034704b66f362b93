// Runs one driver of one trial in this (fresh) process and prints one JSON
// line: the timed milliseconds and the process's peak RSS.
// Usage: node bench/trial.mjs <trial> <driver> <workdir>
import { performance } from "node:perf_hooks";
import { readFileSync } from "node:fs";

const [trialName, driverName, workdir] = process.argv.slice(2);
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
const ctx = { workdir, mark() { peakAnonKiB = Math.max(peakAnonKiB, rssAnonKiB()); }, ...(trial.setup ? await trial.setup(workdir) : {}) };
const t0 = performance.now();
const check = await driver(ctx);
const ms = performance.now() - t0;
ctx.mark();
const maxRssKiB = process.resourceUsage().maxRSS; // before verify() reads anything back
if (trial.verify) await trial.verify(ctx, check);
console.log(JSON.stringify({ ms, maxRssKiB, peakAnonKiB }));
