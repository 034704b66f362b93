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
// The checkout's build/Release addons are put aside for the run and put back
// after it, whatever happens, so the steps after this one test the Linux build.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { nodeGyp } from "./prebuild.mjs";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const release = join(root, "build", "Release");

// Against the running Node's own headers, as scripts/install.mjs builds
// (an npm `nodedir` setting still wins): nothing is downloaded.
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = dirname(dirname(realpathSync(process.execPath)));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

function run(cmd, args, env = process.env) {
  console.log(`$ ${[cmd, ...args].join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: "inherit" });
  return r.status === 0 && r.signal === null;
}

if (process.platform !== "linux") {
  console.error("npm run test:darwin-paths: the macOS-paths build is a Linux build");
  process.exit(1);
}
const saved = mkdtempSync(join(tmpdir(), "memmap-linux-build-"));
const kept = existsSync(release) ? readdirSync(release).filter((f) => f.endsWith(".node")) : [];
for (const f of kept) copyFileSync(join(release, f), join(saved, f));
let ok = false;
try {
  ok = run(process.execPath, [nodeGyp(), "rebuild", "--memmap_darwin_paths=1", "--memmap_test_hooks=1", ...nodedirArgs()]);
  if (ok) {
    // `npm run test:darwin-paths -- test/raw.test.ts ...`: those files only.
    const named = process.argv.slice(2);
    const tests = named.length > 0 ? named
      : readdirSync(join(root, "test")).filter((f) => f.endsWith(".test.ts")).sort().map((f) => join("test", f));
    const base = ["--import", "tsx", "--test", "--test-concurrency=1", ...tests];
    const env = { ...process.env, MEMMAP_DARWIN_PATHS: "1" };
    const native = run(process.execPath, base, { ...env, MEMMAP_BACKEND: "" });
    const portable = run(process.execPath, base, { ...env, MEMMAP_BACKEND: "portable" });
    ok = native && portable;
  }
} finally {
  // The Linux build back, as it was: configured for Linux again, and the
  // addons that were built for it.
  if (kept.length > 0) {
    const gyp = run(process.execPath, [nodeGyp(), "configure", "--memmap_test_hooks=1", ...nodedirArgs()]);
    mkdirSync(release, { recursive: true });
    for (const f of kept) copyFileSync(join(saved, f), join(release, f));
    if (!gyp) ok = false;
  }
  rmSync(saved, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
