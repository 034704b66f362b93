#!/usr/bin/env node
// The package's install step (package.json "install"). It uses the prebuilt
// addon for this platform when there is one that loads here (prebuilds/, see
// scripts/prebuild.mjs), unless MEMMAP_BUILD_FROM_SOURCE=1 (or npm's
// --memmap-build-from-source, or the common --build-from-source) asks for a
// build, or this is a git checkout (which always builds its own sources).
// Otherwise it builds the native addon from source with node-gyp:
//  * against the running Node's own headers where it has them (official Node
//    builds ship them beside the binary, in <prefix>/include/node), so that
//    nothing is downloaded. An npm `nodedir` setting still wins.
//  * A failed build never fails the install. memmap then runs on its
//    portable backend. The reason goes into build/install-error.txt, which
//    the loader quotes in backend.reason (npm 7+ shows an install script's
//    output only when it fails, so a warning alone would go unseen), and a
//    warning is printed for those who run npm with --foreground-scripts.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const errorFile = join(root, "build", "install-error.txt");
const FIX = process.platform === "darwin"
  ? "To build it: install Xcode's command line tools (xcode-select --install), then run `MEMMAP_BUILD_FROM_SOURCE=1 npm rebuild memmap`"
  : "To build it: install python3, make and a C++ compiler (Debian/Ubuntu: apt-get install python3 make g++), then run `npm rebuild memmap`";

// node-gyp: the one npm hands to install scripts, else the one npm bundles.
function nodeGyp() {
  const given = process.env.npm_config_node_gyp;
  if (given && existsSync(given) && statSync(given).isFile()) return given;
  const npmClis = [process.env.npm_execpath];
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const npm = join(dir, "npm");
    if (dir && existsSync(npm)) npmClis.push(realpathSync(npm));
  }
  for (const cli of npmClis) {
    if (!cli) continue;
    const gyp = join(dirname(cli), "..", "node_modules", "node-gyp", "bin", "node-gyp.js");
    if (existsSync(gyp)) return gyp;
  }
  return null;
}

// The running Node's headers, if it has them.
function localNodedir() {
  const prefix = dirname(dirname(realpathSync(process.execPath)));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? prefix : null;
}

function build() {
  const gyp = nodeGyp();
  if (!gyp) return { ok: false, why: "node-gyp was not found (it comes with npm)" };
  const args = [gyp, "rebuild"];
  const env = { ...process.env };
  const nodedir = localNodedir();
  if (!env.npm_config_nodedir && nodedir) {
    delete env.npm_config_nodedir; // set but empty, it would win over the flag
    args.push(`--nodedir=${nodedir}`);
  }
  // A build takes a minute or two; one that hangs (a network that drops
  // connections silently, where headers must be fetched) must not hang the install.
  const r = spawnSync(process.execPath, args, { cwd: root, env, stdio: ["ignore", "inherit", "pipe"], encoding: "utf8", timeout: 20 * 60 * 1000, maxBuffer: 64 << 20 });
  process.stderr.write(r.stderr ?? "");
  if (r.status === 0) return { ok: true };
  // The line that says what failed: the compiler's (or Python's) first
  // error, else node-gyp's own, else the last line.
  const lines = (r.stderr ?? "").split("\n").map((l) => l.trim()).filter(Boolean);
  const tool = lines.find((l) => !l.startsWith("gyp ") && /error|not found/i.test(l));
  // node-gyp's own error spans several "gyp ERR! stack" lines before the trace.
  const stack = lines.filter((l) => l.startsWith("gyp ERR! stack ")).map((l) => l.slice("gyp ERR! stack ".length));
  const end = stack.findIndex((l) => l.startsWith("at "));
  const gypError = stack.length > 0 ? stack.slice(0, end < 0 ? stack.length : end).join(" ") : undefined;
  return { ok: false, why: tool ?? gypError ?? lines.at(-1) ?? String(r.error ?? `exit ${r.status}`) };
}

// The prebuilt addon for this platform, if one loads here (in a child: a
// build for another C library fails to load, and must not fail this script).
// Their names come from the loader (lib/load.ts, prebuildFiles), which the
// installed package carries built (dist/); a checkout never asks (it builds).
async function usablePrebuild() {
  let prebuildFiles;
  try {
    ({ prebuildFiles } = await import("../dist/load.js"));
  } catch {
    return null; // no dist/: not an installed package; build
  }
  for (const file of prebuildFiles(root)) {
    if (!existsSync(file)) continue;
    // On macOS the native backend is opt-in (lib/select.ts): its code does
    // not run, not even to be tried, before the user asks for it.
    if (process.platform === "darwin") return file;
    const r = spawnSync(process.execPath, ["-e", "require(process.argv[1])", file], { stdio: "ignore", timeout: 60_000 });
    if (r.status === 0) return file;
  }
  return null;
}

// Never fails the install: a file that cannot be removed or written (a
// read-only package folder) is let be.
function quietly(fn) {
  try {
    fn();
  } catch {
    // Nothing to do about it here.
  }
}

const truthy = (v) => v !== undefined && v !== "" && v !== "0" && v !== "false";
// A checkout (a git clone, not an installed package) always builds its own
// sources: a prebuild left there by `npm pack` may be older than them.
const checkout = existsSync(join(root, ".git"));
const fromSource = checkout || truthy(process.env.MEMMAP_BUILD_FROM_SOURCE) ||
  truthy(process.env.npm_config_memmap_build_from_source) || truthy(process.env.npm_config_build_from_source);
const prebuilt = fromSource ? null : await usablePrebuild();
if (prebuilt) {
  // A build from an earlier install (MEMMAP_BUILD_FROM_SOURCE) would be
  // loaded first (lib/load.ts): it goes, so that this choice is the one used.
  quietly(() => rmSync(join(root, "build"), { recursive: true, force: true }));
  console.log(`memmap: using the prebuilt addon ${prebuilt.slice(root.length + 1)}`);
  process.exit(0);
}
const result = build();
quietly(() => rmSync(errorFile, { force: true }));
if (!result.ok) {
  const message = `the build at install failed: ${result.why}`;
  try {
    mkdirSync(dirname(errorFile), { recursive: true });
    writeFileSync(errorFile, message + "\n");
  } catch {
    // Read-only install: the loader still says the addon is missing.
  }
  process.stderr.write(`\nmemmap: warning: ${message}.\nmemmap will run on its portable backend (it copies files into memory). ${FIX}.\n`);
}
process.exit(0);
