// macOS: the addon ships prebuilt (cross-built on Linux) but memmap's tests
// have never run on a Mac, so there it is loaded only when asked for
// (MEMMAP_BACKEND=native); otherwise the portable backend, and the reason
// says how to opt in. The decision and the file names are pure functions,
// tested here for every platform; a child that says it is macOS checks the
// whole path, from import to backend.reason and memmap/raw.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { nativeOptIn } from "../dist/select.js";
import { addonFix, candidates } from "../dist/load.js";
import { addonPath, ended, portable, root, runFixture, skipIf, notOnWindows } from "./helpers.js";

const PREBUILD = join("prebuilds", "darwin-arm64", "memmap.node");
const OPT_IN = "the native backend is opt-in on macOS until memmap's test suite has run on a Mac: set MEMMAP_BACKEND=native to use it";

test("on macOS without MEMMAP_BACKEND=native the addon is not loaded, and the reason names the opt-in and the file", () => {
  for (const env of [{}, { MEMMAP_BACKEND: "" }]) {
    const reason = nativeOptIn("darwin", env, PREBUILD);
    assert.equal(reason, `${OPT_IN} (${PREBUILD})`);
    assert.match(reason, /MEMMAP_BACKEND=native/);
  }
  // MEMMAP_BACKEND=portable never asks for the addon (select.ts returns
  // first), but the raw layer, which has no portable form, still refuses.
  assert.match(nativeOptIn("darwin", { MEMMAP_BACKEND: "portable" }, PREBUILD) ?? "", /MEMMAP_BACKEND=native/);
});

test("on macOS with MEMMAP_BACKEND=native the addon is loaded", () => {
  assert.equal(nativeOptIn("darwin", { MEMMAP_BACKEND: "native" }, PREBUILD), null);
  assert.equal(nativeOptIn("darwin", { MEMMAP_BACKEND: "native" }, "build/Release/memmap.node"), null);
});

test("on macOS with no addon file there is nothing to opt in to: the loader's own error is the reason", () => {
  assert.equal(nativeOptIn("darwin", {}, null), null);
});

test("Linux and Windows load the addon by default, as before", () => {
  for (const platform of ["linux", "win32"]) {
    for (const env of [{}, { MEMMAP_BACKEND: "" }, { MEMMAP_BACKEND: "native" }]) {
      assert.equal(nativeOptIn(platform, env, "build/Release/memmap.node"), null, `${platform} ${JSON.stringify(env)}`);
    }
  }
});

// candidates() reads MEMMAP_TEST_ADDON: the production list is asked for here.
function productionCandidates(platform: string, arch: string): string[] {
  const saved = process.env["MEMMAP_TEST_ADDON"];
  delete process.env["MEMMAP_TEST_ADDON"];
  try {
    return candidates(root, platform, arch);
  } finally {
    if (saved !== undefined) process.env["MEMMAP_TEST_ADDON"] = saved;
  }
}

test("the macOS prebuilds are untagged, one per architecture: prebuilds/darwin-<arch>/memmap.node", () => {
  for (const arch of ["arm64", "x64"]) {
    assert.deepEqual(productionCandidates("darwin", arch), [
      join(root, "build", "Release", "memmap.node"),
      join(root, "prebuilds", `darwin-${arch}`, "memmap.node"),
      join(root, "build", "Debug", "memmap.node"),
    ]);
  }
  // Windows is as it was; Linux's prebuild is tagged by its C library.
  assert.equal(productionCandidates("win32", "x64")[1], join(root, "prebuilds", "win32-x64", "memmap.node"));
  assert.match(productionCandidates("linux", "x64")[1] ?? "", /prebuilds[\\/]linux-x64[\\/]memmap\.(glibc|musl)\.node$/);
});

test("the fix the loader names on macOS is true there: the prebuilds, Xcode's tools, npm rebuild, and the opt-in", () => {
  const fix = addonFix("darwin");
  assert.match(fix, /prebuilds\/darwin-x64\/memmap\.node/);
  assert.match(fix, /prebuilds\/darwin-arm64\/memmap\.node/);
  assert.match(fix, /Xcode's command line tools/);
  assert.match(fix, /npm rebuild memmap/);
  assert.match(fix, /MEMMAP_BACKEND=native/);
  assert.doesNotMatch(fix, /apt-get/);
  assert.match(addonFix("linux"), /apt-get install python3 make g\+\+/);
  assert.match(addonFix("win32"), /prebuilds\/win32-x64\/memmap\.node/);
});

// A child that says it is macOS (process.platform set before memmap is
// imported) and loads this checkout's build: on Linux it checks the whole
// path; on a Mac the override changes nothing.
const simulate = (env: Record<string, string>) => runFixture("darwin-simulate.mjs", {}, [], { MEMMAP_TEST_ADDON: "", ...env });

const child = skipIf(
  notOnWindows("the child loads build/Release/memmap.node; the Windows addon is elsewhere"),
  { skip: portable ? "the child sets MEMMAP_BACKEND itself: the same in both runs, once is enough" : false },
  { skip: existsSync(addonPath) ? false : "needs the addon built (npm run build:addon)" },
  { skip: existsSync(join(root, "dist", "index.js")) ? false : "needs dist/ (npm run build)" },
);

test("a process on macOS without the opt-in runs on the portable backend, says why, and memmap/raw refuses by name", child, () => {
  const r = simulate({ MEMMAP_BACKEND: "" });
  assert.equal(r.status, 0, ended(r));
  const out = JSON.parse(r.stdout) as { name: string; reason: string; text: string; raw: { code?: string; message?: string } };
  assert.equal(out.name, "portable");
  assert.equal(out.reason, `${OPT_IN} (${join("build", "Release", "memmap.node")})`);
  assert.equal(out.text, "mapped");
  assert.equal(out.raw.code, "ERR_MEMMAP_NO_ADDON");
  assert.equal(out.raw.message, `memmap: ${out.reason}`);
});

test("a process on macOS with MEMMAP_BACKEND=native loads the addon, and memmap/raw with it", child, () => {
  const r = simulate({ MEMMAP_BACKEND: "native" });
  assert.equal(r.status, 0, ended(r));
  const out = JSON.parse(r.stdout) as { name: string; reason: string; text: string; raw: { loaded?: boolean } };
  assert.equal(out.name, "native");
  assert.equal(out.reason, `MEMMAP_BACKEND=native: the native addon loaded (${join("build", "Release", "memmap.node")})`);
  assert.equal(out.text, "mapped");
  assert.deepEqual(out.raw, { loaded: true });
});
