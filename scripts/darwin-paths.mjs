#!/usr/bin/env node
// npm run test:darwin-paths: the whole test suite, both backends, on the
// Linux addon built the way macOS's is (`node-gyp rebuild
// --memmap_darwin_paths=1`: src/platform/darwin_common.cc over the Linux
// stand-ins of src/platform/darwin_paths.cc). No Mac runs here; this runs
// every branch macOS takes that Linux can: no mremap, no futex_waitv, no
// pagemap, no memfd, no fadvise, no MAP_POPULATE, shared memory sized once,
// ulock's wait semantics, W^X, and protection faults through the SIGBUS
// handler's path.
//
// The build and the run are in a scratch copy of the package (its sources,
// dist/, scripts, tests, and a link to node_modules), so the checkout's
// build/ is never touched: other runs can go on in the checkout meanwhile
// (CI runs this alongside them). The suite runs in its tiers
// (scripts/test.mjs, test/tiers.mjs); the C++ unit test runs here too, since
// it compiles this build's platform sources (the macOS-paths ones), which
// npm test's run does not.
//
// `npm run test:darwin-paths -- test/raw.test.ts ...` runs those files only.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { nodeGyp } from "./prebuild.mjs";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
// What the tests read besides node_modules: the package's manifest and
// build files, its sources and build output, the command, the scripts they
// call, and themselves.
const COPIED = ["package.json", "binding.gyp", "src", "lib", "dist", "scripts", "bin", "test"];

// Against the running Node's own headers, as scripts/install.mjs builds
// (an npm `nodedir` setting still wins): nothing is downloaded.
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = dirname(dirname(realpathSync(process.execPath)));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

function run(cmd, args, cwd) {
  console.log(`$ ${[cmd, ...args].join(" ")}`);
  const r = spawnSync(cmd, args, { cwd, stdio: "inherit" });
  return r.status === 0 && r.signal === null;
}

if (process.platform !== "linux") {
  console.error("npm run test:darwin-paths: the macOS-paths build is a Linux build");
  process.exit(1);
}
if (!existsSync(join(root, "dist", "index.js"))) {
  console.error("npm run test:darwin-paths: needs dist/ (npm run build)");
  process.exit(1);
}
const scratch = mkdtempSync(join(tmpdir(), "memmap-darwin-paths-"));
let ok = false;
try {
  for (const f of COPIED) cpSync(join(root, f), join(scratch, f), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(scratch, "node_modules"));
  console.log(`# the macOS-paths build, in ${scratch}`);
  ok = run(process.execPath, [nodeGyp(), "rebuild", "--memmap_darwin_paths=1", "--memmap_test_hooks=1", ...nodedirArgs()], scratch);
  if (ok) {
    const named = process.argv.slice(2).map((f) => basename(f));
    // The copy's own runner: its tests, its build.
    const { runSuites } = await import(pathToFileURL(join(scratch, "scripts", "test.mjs")).href);
    const results = await runSuites(["native", "portable"].map((backend) => ({
      label: `darwin-paths ${backend}`, runtime: process.execPath,
      env: { MEMMAP_DARWIN_PATHS: "1", MEMMAP_BACKEND: backend === "portable" ? "portable" : "" },
      once: named.length > 0 ? true : backend === "native" ? ["native.test.ts"] : [],
      ...(named.length > 0 ? { files: named } : {}),
    })));
    for (const r of results) {
      console.log(`# ${r.label}: ${r.ok ? "ok" : "FAILED"}, ${r.pass} passed, ${r.fail} failed, ${r.skip} skipped (${r.seconds.toFixed(0)} s)`);
    }
    ok = results.every((r) => r.ok);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(`darwin-paths: ${ok ? "passed" : "FAILED"}`);
process.exit(ok ? 0 : 1);
