// The addon's Mapping (src/mapping.{h,cc}) on its own: test/native/mapping_test.cc
// is built with g++ from mapping.cc and the platform files alone, with no
// Node-API to link against, and run in a child process. A Node-API call in
// Mapping fails the build; a broken size rule, undo or unmap fails a check.
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
  ? "the Mapping's unit test is built for Linux"
  : !haveCompiler
    ? `no C++ compiler (${gxx}) to build the Mapping's unit test`
    : nativeOnly("the Mapping belongs to the native backend").skip;

test("Mapping: builds without Node-API and passes its unit test", { skip }, () => {
  const { dir } = tempDir();
  const exe = join(dir, "mapping_test");
  // The Mapping and what it stands on: binding.gyp's platform files for this
  // build (its one source list per OS, scripts/gyp-sources.mjs), with none of
  // the Node-API files.
  const platform = gypSources("linux", { memmap_darwin_paths: darwinPaths ? 1 : 0 })
    .filter((f) => f.startsWith("src/platform/") || f === "src/guard_posix.cc");
  const built = spawnSync(gxx, [
    "-std=c++17", "-O1", "-Wall", "-Werror", "-o", exe,
    join(root, "test", "native", "mapping_test.cc"),
    ...["src/mapping.cc", "src/budget.cc", "src/guard_slots.cc", ...platform].map((f) => join(root, f)), "-lpthread",
  ], { encoding: "utf8" });
  assert.equal(built.status, 0, `the build failed:\n${built.stderr}`);
  const run = spawnSync(exe, [], { encoding: "utf8" });
  assert.equal(run.signal, null, `the unit test was killed by ${run.signal}:\n${run.stderr}`);
  assert.equal(run.status, 0, `the unit test failed:\n${run.stderr}${run.stdout}`);
  assert.match(run.stdout, /^ok: 0 failed check/);
});
