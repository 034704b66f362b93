#!/usr/bin/env node
// npm run test:native / test:portable (and so npm test): the test suite in
// its tiers (test/tiers.mjs, docs/testing.md). Each run of the suite (one
// runtime, one backend) is its parallel tier, one process per file, as many
// at once as there are cores; then its serial tier, one file at a time,
// holding the machine-wide serial-tier lock. Given several runs, the next
// run's parallel tier starts while this one's serial tier runs (the serial
// tiers still take turns), so that no core waits on a serial file.
//
//   node scripts/test.mjs --backend native --once      npm test's native pass
//   node scripts/test.mjs --backend native,portable    both, one after the other
//   node scripts/test.mjs --backend portable test/raw.test.ts   named files only
//
// Options: --backend native|portable[,...] (default native); --once
// (every run-once file) or --once=native.test.ts[,...]; --runtime <node or
// bun executable> (default: the node running this); --jobs N (default: the
// number of cores, or MEMMAP_TEST_JOBS); --tier parallel|serial (one tier).
// scripts/runtimes.mjs and scripts/darwin-paths.mjs call runSuites().
//
// The output of each tier is printed whole, in order (the tier that runs
// alongside is held back until the one before it is done); the TAP of each
// Node tier is kept in a temporary folder for the counts. Ends with one
// "tests: N passed, N failed, N skipped" line; exits 1 if anything failed.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { SERIAL_LOCK, tiers } from "../test/tiers.mjs";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));

/** How many test files the parallel tier runs at once. */
export function defaultJobs() {
  const fromEnv = Number(process.env["MEMMAP_TEST_JOBS"]);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.max(1, availableParallelism());
}

const haveFlock = process.platform !== "win32" && spawnSync("flock", ["--version"], { stdio: "ignore" }).status === 0;

/** Whether `exe` is Bun (its npm package's binary is bin/bun.exe on every system). */
function isBun(exe) {
  return /^bun(\.exe)?$/.test(basename(exe));
}

// One tier's command: Node's test runner (TAP to `tap` for the counts, spec
// on stdout), or bun test (which runs node:test files).
function tierCommand({ runtime, bun, files, jobs, tap }) {
  const paths = files.map((f) => `./test/${f}`);
  if (bun) {
    // --parallel: a worker process per core, each file in a fresh global
    // (--isolate); the serial tier runs in one process, in order.
    return { cmd: runtime, args: ["test", "--timeout", "300000", ...(jobs > 1 ? [`--parallel=${jobs}`] : []), ...paths] };
  }
  return {
    cmd: runtime,
    args: ["--import", "tsx", "--test", `--test-concurrency=${jobs}`,
      "--test-reporter=spec", "--test-reporter-destination=stdout",
      "--test-reporter=tap", `--test-reporter-destination=${tap}`, ...paths],
  };
}

// Counts from node:test's TAP, or from bun test's summary.
function counts(bun, text) {
  const num = (re) => Number(re.exec(text)?.[1] ?? NaN);
  if (bun) return { pass: num(/^\s*(\d+) pass$/m), fail: num(/^\s*(\d+) fail$/m) || 0, skip: num(/^\s*(\d+) skip$/m) || 0 };
  return {
    pass: num(/^# pass (\d+)/m),
    fail: (num(/^# fail (\d+)/m) || 0) + (num(/^# cancelled (\d+)/m) || 0),
    skip: num(/^# skipped (\d+)/m) || 0,
  };
}

// Output blocks printed whole and in order: the first unfinished block
// streams; later ones are held until it is done.
class Printer {
  constructor(write) {
    this.write = write;
    this.blocks = [];
    this.at = 0;
  }
  block(run) {
    const b = { run, chunks: [], done: false };
    this.blocks.push(b);
    return {
      out: (s) => {
        if (this.blocks[this.at] === b) this.write(s, run);
        else b.chunks.push(s);
      },
      end: () => {
        b.done = true;
        this.advance();
      },
    };
  }
  advance() {
    while (this.at < this.blocks.length && this.blocks[this.at].done) {
      this.at++;
      const next = this.blocks[this.at];
      if (next) {
        for (const s of next.chunks) this.write(s, next.run);
        next.chunks = [];
      }
    }
  }
}

function runTier(run, tier, files, { jobs, block, scratch }) {
  const head = `# ${run.label}: ${tier} tier, ${files.length} file${files.length === 1 ? "" : "s"}${tier === "parallel" ? `, ${jobs} at once` : ""}`;
  if (files.length === 0) {
    block.out(`${head}: none\n`);
    block.end();
    return Promise.resolve({ pass: 0, fail: 0, skip: 0, seconds: 0, ok: true, files: 0 });
  }
  const tap = join(scratch, `${run.label.replace(/\W+/g, "-")}-${tier}.tap`);
  let { cmd, args } = tierCommand({ runtime: run.runtime, bun: run.bun, files, jobs: tier === "serial" ? 1 : jobs, tap });
  if (tier === "serial" && haveFlock) {
    args = [SERIAL_LOCK, cmd, ...args];
    cmd = "flock";
  }
  block.out(`${head}\n`);
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(cmd, args, {
      cwd: root, stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...run.env },
    });
    let text = "";
    const take = (d) => {
      const s = d.toString();
      if (run.bun) text += s;
      block.out(s);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    let ended = false;
    child.on("error", (e) => {
      block.out(`could not start ${cmd}: ${e.message}\n`);
      if (!ended && child.pid === undefined) child.emit("close", null, null);
    });
    child.on("close", (status, signal) => {
      if (ended) return;
      ended = true;
      if (!run.bun) {
        try {
          text = readFileSync(tap, "utf8");
        } catch {
          text = "";
        }
      }
      const c = counts(run.bun, text);
      const seconds = (Date.now() - started) / 1000;
      const ok = status === 0 && signal === null && c.fail === 0 && c.pass > 0;
      block.out(`# ${run.label}: ${tier} tier ${ok ? "passed" : "FAILED"}: ${c.pass} passed, ${c.fail} failed, ${c.skip} skipped` +
        `${status !== 0 || signal ? ` (exit ${status}${signal ? ` ${signal}` : ""})` : ""} in ${seconds.toFixed(0)} s\n`);
      block.end();
      done({ ...c, seconds, ok, files: files.length });
    });
  });
}

/**
 * Runs the suite once per entry of `runs`: { label, runtime, bun?, env,
 * once, files? }. Resolves to the runs' results, in order, each { label, ok,
 * pass, fail, skip, seconds, tiers }; `onResult` is called with each as it
 * comes (in order too). `write(text, run)` takes the output.
 */
export async function runSuites(runs, { jobs = defaultJobs(), only, write = (s) => process.stdout.write(s), onResult = () => {} } = {}) {
  const printer = new Printer(write);
  const scratch = mkdtempSync(join(tmpdir(), "memmap-tap-"));
  const results = [];
  try {
    let serialTurn = Promise.resolve();
    const pending = [];
    for (const run of runs) {
      const r = { ...run, bun: run.bun ?? isBun(run.runtime), env: run.env ?? {} };
      const { parallel, serial } = tiers({ once: run.once ?? [] });
      const pick = (list) => (run.files ? list.filter((f) => run.files.includes(f)) : list);
      const started = Date.now();
      const none = { pass: 0, fail: 0, skip: 0, seconds: 0, ok: true, files: 0 };
      const parallelBlock = printer.block(r);
      const p = only === "serial" ? (parallelBlock.end(), none)
        : await runTier(r, "parallel", pick(parallel), { jobs, block: parallelBlock, scratch });
      // The serial tier after its own parallel tier and the previous run's
      // serial tier; the next run's parallel tier meanwhile (its output held
      // back until this tier's is printed).
      const serialBlock = printer.block(r);
      const mine = serialTurn.then(() => (only === "parallel" ? (serialBlock.end(), none)
        : runTier(r, "serial", pick(serial), { jobs, block: serialBlock, scratch })));
      serialTurn = mine;
      pending.push(mine.then((s) => {
        const result = {
          label: run.label, ok: p.ok && s.ok, pass: p.pass + s.pass, fail: p.fail + s.fail, skip: p.skip + s.skip,
          seconds: (Date.now() - started) / 1000, tiers: { parallel: p, serial: s },
        };
        results.push(result);
        onResult(result);
        return result;
      }));
    }
    await Promise.all(pending);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return runs.map((run) => results.find((r) => r.label === run.label));
}

function parseArgs(argv) {
  const o = { backends: ["native"], once: [], runtime: process.execPath, jobs: defaultJobs(), only: undefined, files: [] };
  for (const a of argv) {
    const [k, v] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    if (k === "--backend") o.backends = (v ?? "").split(",");
    else if (k === "--once") o.once = v === undefined ? true : v.split(",");
    else if (k === "--runtime") o.runtime = v;
    else if (k === "--jobs") o.jobs = Number(v);
    else if (k === "--tier") o.only = v;
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else o.files.push(basename(a));
  }
  for (const b of o.backends) if (b !== "native" && b !== "portable") throw new Error(`--backend: "native" or "portable", not "${b}"`);
  if (!Number.isInteger(o.jobs) || o.jobs < 1) throw new Error("--jobs: a whole number of at least 1");
  if (o.only !== undefined && o.only !== "parallel" && o.only !== "serial") throw new Error(`--tier: "parallel" or "serial"`);
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  // Options may come as `--backend native` as well as `--backend=native`.
  const argv = [];
  const raw = process.argv.slice(2);
  for (let i = 0; i < raw.length; i++) {
    const a = raw[i];
    if (["--backend", "--runtime", "--jobs", "--tier"].includes(a)) argv.push(`${a}=${raw[++i] ?? ""}`);
    else argv.push(a);
  }
  let o;
  try {
    o = parseArgs(argv);
  } catch (e) {
    console.error(`scripts/test.mjs: ${e.message}`);
    process.exit(2);
  }
  const runs = o.backends.map((backend, i) => ({
    label: `${basename(o.runtime)} ${backend}`,
    runtime: o.runtime,
    env: { MEMMAP_BACKEND: backend === "portable" ? "portable" : "" },
    // The run-once files go with the first backend named.
    once: i === 0 ? o.once : [],
    ...(o.files.length > 0 ? { files: o.files } : {}),
  }));
  if (o.files.length > 0) {
    // Files named on the command line run whatever the run-once rule says.
    for (const run of runs) run.once = true;
  }
  const results = await runSuites(runs, { jobs: o.jobs, only: o.only });
  const sum = (k) => results.reduce((n, r) => n + r[k], 0);
  for (const r of results) {
    console.log(`# ${r.label}: ${r.ok ? "ok" : "FAILED"}, ${r.pass} passed, ${r.fail} failed, ${r.skip} skipped` +
      ` (parallel tier ${r.tiers.parallel.seconds.toFixed(0)} s, serial tier ${r.tiers.serial.seconds.toFixed(0)} s, ${r.seconds.toFixed(0)} s in all)`);
  }
  console.log(`tests: ${sum("pass")} passed, ${sum("fail")} failed, ${sum("skip")} skipped`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}
