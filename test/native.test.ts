// The addon's napi-free core (src/core/) on its own: each test/native/*_test.cc
// is built with g++ from src/core/ and the platform files alone, with no
// Node-API to link against, and run in a child process. A Node-API call in
// the core fails the build; a broken size rule, undo, unmap or lifetime
// step fails a check. MEMMAP_DEBUG_CHECKS turns on the Lease's own checks
// of every step (src/core/lease.cc), which lease_test.cc also provokes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { darwinPaths, nativeOnly, root, tempDir } from "./helpers.js";
// @ts-expect-error: a script of the package's own, in plain JavaScript
import { gypSources } from "../scripts/gyp-sources.mjs";

const gxx = process.env["CXX"] ?? "g++";
const haveCompiler = spawnSync(gxx, ["--version"], { stdio: "ignore" }).status === 0;
const skip = process.platform !== "linux"
  ? "the core's unit tests are built for Linux"
  : !haveCompiler
    ? `no C++ compiler (${gxx}) to build the core's unit tests`
    : nativeOnly("the core belongs to the native backend").skip;

// What the unit tests stand on: binding.gyp's core and platform files for
// this build (its one source list per OS, scripts/gyp-sources.mjs), with
// none of the Node-API files.
const sources = (gypSources("linux", { memmap_darwin_paths: darwinPaths ? 1 : 0 }) as string[])
  .filter((f) => f.startsWith("src/core/") || f.startsWith("src/platform/"));

for (const [name, what] of [["range_test", "MappedRange (src/core/range.h)"], ["lease_test", "Lease, the lifetime state machine (src/core/lease.h)"]] as const) {
  test(`${what}: builds without Node-API and passes its unit test`, { skip }, () => {
    const { dir } = tempDir();
    const exe = join(dir, name);
    const built = spawnSync(gxx, [
      "-std=c++17", "-O1", "-Wall", "-Werror", "-DMEMMAP_DEBUG_CHECKS", "-o", exe,
      join(root, "test", "native", `${name}.cc`), ...sources.map((f) => join(root, f)), "-lpthread",
    ], { encoding: "utf8" });
    assert.equal(built.status, 0, `the build failed:\n${built.stderr}`);
    const run = spawnSync(exe, [], { encoding: "utf8" });
    assert.equal(run.signal, null, `the unit test was killed by ${run.signal}:\n${run.stderr}`);
    assert.equal(run.status, 0, `the unit test failed:\n${run.stderr}${run.stdout}`);
    assert.match(run.stdout, /^ok: 0 failed check/);
  });
}
