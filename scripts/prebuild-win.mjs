#!/usr/bin/env node
// npm run prebuild:win: the Windows x64 addon, cross-built on Linux with
// mingw-w64 (Debian: apt-get install g++-mingw-w64-x86-64; its "posix"
// thread model, x86_64-w64-mingw32-g++-posix, which has std::mutex) into
// prebuilds/win32-x64/memmap.node, shipped like the Linux prebuilds.
//
//  * Sources: binding.gyp's list for Windows (scripts/gyp-sources.mjs).
//  * Headers: the running Node's (node_api.h, and uv.h, which carries
//    libuv's Windows header too).
//  * Imports: node.exe exports Node-API and libuv. A delay-load import
//    library is made with mingw's dlltool from the .def file of the
//    node-api-headers package (a devDependency), plus what that file lacks:
//    the libuv functions the addon calls and the experimental
//    node_api_post_finalizer. src/win_delay_load.cc resolves them against
//    the program that loaded the addon, whatever its name.
//  * The C++ runtime and winpthreads are linked statically (-static): the DLL needs only KERNEL32,
//    msvcrt and system DLLs, checked here with objdump.
//
// `--test` builds build/win/memmap_test.node instead (MEMMAP_TEST_HOOKS), for
// the test run under wine (scripts/test-windows.mjs).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gypSources } from "./gyp-sources.mjs";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const TOOLS = "x86_64-w64-mingw32-";
// The libuv functions the addon calls (src/), which node.exe exports.
const UV = ["uv_async_init", "uv_async_send", "uv_close", "uv_unref", "uv_get_osfhandle", "uv_open_osfhandle",
  "uv_fs_close", "uv_fs_req_cleanup", "uv_translate_sys_error"];
// What a Windows DLL of ours may import: the system and the host.
const ALLOWED_DLLS = /^(KERNEL32|msvcrt|node|USER32|ADVAPI32|api-ms-win-[a-z0-9-]+)\.(dll|exe)$/i;

export const winPrebuildPath = (base = root) => join(base, "prebuilds", "win32-x64", "memmap.node");

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...options });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr ?? ""}`);
  }
  return r.stdout;
}

function nodeInclude() {
  const dir = join(dirname(dirname(realpathSync(process.execPath))), "include", "node");
  if (!existsSync(join(dir, "uv", "win.h"))) throw new Error(`the running Node's headers (${dir}) are missing or have no uv/win.h`);
  return dir;
}

function importLibrary(out) {
  const require = createRequire(import.meta.url);
  const headers = dirname(require.resolve("node-api-headers/package.json"));
  const def = readFileSync(join(headers, "def", "node_api.def"), "utf8").trimEnd(); // no newline at its end
  const have = new Set(def.split(/\r?\n/).map((l) => l.trim()));
  const extra = ["node_api_post_finalizer", ...UV].filter((s) => !have.has(s));
  const file = join(out, "node.def");
  writeFileSync(file, `${def}\n${extra.join("\n")}\n`);
  const lib = join(out, "libnode_delay.a");
  run(`${TOOLS}dlltool`, ["-d", file, "-y", lib, "-D", "node.exe"]);
  return lib;
}

/** Whether the cross compiler is installed. */
export function mingwAvailable() {
  return spawnSync(`${TOOLS}g++-posix`, ["--version"], { stdio: "ignore" }).status === 0;
}

/** The DLLs a built addon imports (objdump -p). */
export function importedDlls(file) {
  return [...run(`${TOOLS}objdump`, ["-p", file]).matchAll(/DLL Name: (\S+)/g)].map((m) => m[1]);
}

export function buildWindows({ test = false } = {}) {
  const out = join(root, "build", "win");
  mkdirSync(out, { recursive: true });
  const lib = importLibrary(out);
  const sources = gypSources("win").map((f) => join(root, f));
  const target = test ? join(out, "memmap_test.node") : winPrebuildPath();
  if (!test) rmSync(dirname(target), { recursive: true, force: true }); // nothing stale is packed
  mkdirSync(dirname(target), { recursive: true });
  run(`${TOOLS}g++-posix`, [
    "-O2", "-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type", "-fno-exceptions",
    "-DBUILDING_NODE_EXTENSION", "-D_WIN32_WINNT=0x0A00", "-DWIN32_LEAN_AND_MEAN", "-DNOMINMAX",
    ...(test ? ["-DMEMMAP_TEST_HOOKS"] : []),
    `-I${nodeInclude()}`, ...sources, "-o", target,
    "-shared", "-static", "-Wl,--no-undefined", "-s", lib, "-lpsapi",
  ]);
  const dlls = importedDlls(target);
  const odd = dlls.filter((d) => !ALLOWED_DLLS.test(d));
  if (odd.length > 0) throw new Error(`${target} imports ${odd.join(", ")}: only system DLLs and the host may be imported`);
  console.log(`${target.slice(root.length + 1)}: PE32+ x86-64, imports ${[...new Set(dlls)].join(", ")}`);
  return target;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    buildWindows({ test: process.argv.includes("--test") });
  } catch (e) {
    console.error(`npm run prebuild:win: ${e.message}`);
    process.exit(1);
  }
}
