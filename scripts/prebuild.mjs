#!/usr/bin/env node
// npm run build:prebuilds (also run by npm pack): the prebuilt addons that ship in the package, one per
// platform, at prebuilds/<platform>-<arch>/memmap.glibc.node (the libc is in
// the name, as node-gyp-build's tags have it: a musl build would sit beside
// it as memmap.musl.node). lib/load.ts loads them; scripts/install.mjs then
// builds nothing.
//
//  * linux-x64 with the machine's g++, linux-arm64 with Debian's cross
//    compiler (apt-get install g++-aarch64-linux-gnu).
//  * Each is built in a scratch copy of the sources (the checkout's build/
//    is left alone), by npm's node-gyp against the running Node's headers
//    (Node-API: one build serves every Node version), then stripped.
//  * Each is checked: the right machine, and no symbol version newer than
//    GLIBC_2.28 and GLIBCXX_3.4.21 (what Node's own binaries need; see
//    src/glibc_compat.h). A build that fails a check fails the script.
//
// Then prebuilds/win32-x64/memmap.node with mingw-w64 (scripts/prebuild-win.mjs),
// and prebuilds/darwin-x64/memmap.node and prebuilds/darwin-arm64/memmap.node
// with zig from npm (scripts/prebuild-darwin.mjs).
// `npm run build:prebuilds -- x64` builds one target only ("win32" for Windows,
// "darwin" for both macOS ones). (Not named "prebuild": npm would run it
// before every `npm run build`.)
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { newer } from "./versions.mjs";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));

export const CEILING = { GLIBC: "2.28", GLIBCXX: "3.4.21" };

export const TARGETS = {
  x64: { machine: "Advanced Micro Devices X86-64", tools: "" },
  arm64: { machine: "AArch64", tools: "aarch64-linux-gnu-" },
};

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...options });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr ?? ""}`);
  }
  return r.stdout;
}

/** The node-gyp that npm bundles (also scripts/darwin-paths.mjs). */
export function nodeGyp() {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const npm = join(dir, "npm");
    if (!dir || !existsSync(npm)) continue;
    const gyp = join(dirname(realpathSync(npm)), "..", "node_modules", "node-gyp", "bin", "node-gyp.js");
    if (existsSync(gyp)) return gyp;
  }
  throw new Error("node-gyp not found: it comes with npm");
}


/** What a built addon needs and is: its machine and every symbol version above the ceiling. */
export function inspect(file) {
  const header = run("readelf", ["-h", file]);
  const machine = /Machine:\s+(.+)/.exec(header)?.[1]?.trim() ?? "unknown";
  const needs = run("readelf", ["-V", "-W", file]);
  const versions = [...needs.matchAll(/Name: (GLIBC|GLIBCXX)_([0-9.]+)/g)].map((m) => [m[1], m[2]]);
  const over = versions.filter(([lib, v]) => newer(v, CEILING[lib])).map(([lib, v]) => `${lib}_${v}`);
  const highest = {};
  for (const [lib, v] of versions) if (!highest[lib] || newer(v, highest[lib])) highest[lib] = v;
  return { machine, over: [...new Set(over)], highest };
}

export function prebuildPath(arch, base = root) {
  return join(base, "prebuilds", `linux-${arch}`, "memmap.glibc.node");
}

function build(arch) {
  const t = TARGETS[arch];
  const scratch = mkdtempSync(join(tmpdir(), `memmap-prebuild-${arch}-`));
  try {
    for (const f of ["binding.gyp", "src"]) cpSync(join(root, f), join(scratch, f), { recursive: true });
    const env = { ...process.env };
    delete env.npm_config_nodedir;
    if (t.tools) {
      Object.assign(env, { CC: `${t.tools}gcc`, CXX: `${t.tools}g++`, LINK: `${t.tools}g++`, AR: `${t.tools}ar` });
    }
    const nodedir = dirname(dirname(realpathSync(process.execPath)));
    run(process.execPath, [nodeGyp(), "rebuild", `--arch=${arch}`, `--nodedir=${nodedir}`], { cwd: scratch, env });
    const out = prebuildPath(arch);
    rmSync(dirname(out), { recursive: true, force: true }); // nothing stale is packed
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(join(scratch, "build", "Release", "memmap.node"), out);
    run(`${t.tools}strip`, ["--strip-unneeded", out]);
    const seen = inspect(out);
    if (seen.machine !== t.machine) throw new Error(`${out}: built for ${seen.machine}, not ${t.machine}`);
    if (seen.over.length > 0) throw new Error(`${out}: needs ${seen.over.join(", ")}, above ${JSON.stringify(CEILING)}`);
    console.log(`prebuilds/linux-${arch}/memmap.glibc.node: ${seen.machine}, needs GLIBC_${seen.highest.GLIBC} and GLIBCXX_${seen.highest.GLIBCXX} at most`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.platform !== "linux") {
    console.error("npm run build:prebuilds: the prebuilds are made on Linux (x64 and, cross-compiled, arm64)");
    process.exit(1);
  }
  const named = process.argv.slice(2);
  const archs = named.length > 0 ? named.filter((a) => a !== "win32" && a !== "darwin") : Object.keys(TARGETS);
  for (const arch of archs) {
    if (!TARGETS[arch]) {
      console.error(`npm run build:prebuilds: unknown architecture "${arch}" (${Object.keys(TARGETS).join(", ")})`);
      process.exit(1);
    }
    try {
      build(arch);
    } catch (e) {
      console.error(`npm run build:prebuilds: ${e.message}`);
      process.exit(1);
    }
  }
  // Windows x64, cross-built with mingw-w64 (scripts/prebuild-win.mjs):
  // required in CI, skipped with a warning where mingw is not installed.
  if (named.length === 0 || named.includes("win32")) {
    const { buildWindows, mingwAvailable } = await import("./prebuild-win.mjs");
    if (!mingwAvailable() && !process.env.CI) {
      console.warn("npm run build:prebuilds: no prebuilds/win32-x64 (apt-get install g++-mingw-w64-x86-64 to build it)");
    } else {
      try {
        buildWindows();
      } catch (e) {
        console.error(`npm run build:prebuilds: ${e.message}`);
        process.exit(1);
      }
    }
  }
  // macOS x64 and arm64, cross-built with zig (scripts/prebuild-darwin.mjs):
  // required in CI, skipped with a warning where zig is not installed.
  if (named.length === 0 || named.includes("darwin")) {
    const { DARWIN_TARGETS, buildDarwin, darwinMissing } = await import("./prebuild-darwin.mjs");
    const missing = darwinMissing();
    if (missing.length > 0 && !process.env.CI) {
      console.warn(`npm run build:prebuilds: no prebuilds/darwin-x64 or darwin-arm64 (missing ${missing.join(", ")})`);
    } else {
      try {
        if (missing.length > 0) throw new Error(`the macOS prebuilds need ${missing.join(", ")}`);
        for (const arch of Object.keys(DARWIN_TARGETS)) buildDarwin(arch);
      } catch (e) {
        console.error(`npm run build:prebuilds: ${e.message}`);
        process.exit(1);
      }
    }
  }
}
