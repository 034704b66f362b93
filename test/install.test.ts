// The install step (scripts/install.mjs) never fails the install: without a
// compiler it exits 0, leaves its reason in build/install-error.txt, and the
// package then runs on the portable backend, whose reason quotes it and
// names the fix. Run in a scratch copy of the package, never in the checkout
// (node-gyp rebuild would replace the addon the other tests use).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { root, tempDir } from "./helpers.js";

const skip = process.versions["bun"] !== undefined || process.versions["deno"] !== undefined
  ? "the install step runs under Node (npm's node-gyp)"
  : process.env["MEMMAP_BACKEND"] === "portable" ? "the same in both runs: once is enough" : false;

test("a build that fails at install (no compiler) exits 0, says why once, and leaves the portable backend naming the fix", { skip }, () => {
  const { dir } = tempDir();
  for (const f of ["package.json", "binding.gyp", "src", "scripts", "dist"]) cpSync(join(root, f), join(dir, f), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  const env: NodeJS.ProcessEnv = { ...process.env, CC: "/nonexistent/cc", CXX: "/nonexistent/c++", MEMMAP_BACKEND: "", MEMMAP_TEST_ADDON: "" };
  delete env["npm_config_nodedir"]; // as on a user's machine: the script finds the running Node's headers itself
  const r = spawnSync(process.execPath, [join(dir, "scripts", "install.mjs")], { cwd: dir, env, encoding: "utf8" });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, `the install step failed the install:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /gyp http GET|https?:\/\//, "nothing is downloaded: the running Node's headers are used");
  assert.match(r.stderr, /memmap: warning: the build at install failed: .+/);
  assert.match(r.stderr, /npm rebuild memmap/);
  assert.equal(existsSync(join(dir, "build", "Release", "memmap.node")), false);
  const recorded = readFileSync(join(dir, "build", "install-error.txt"), "utf8");
  assert.match(recorded, /^the build at install failed: /);

  const use = spawnSync(process.execPath, ["--input-type=module", "-e", `
    import { backend, map } from "./dist/index.js";
    import { writeFileSync } from "node:fs";
    writeFileSync("f", "still works");
    console.log(JSON.stringify({ name: backend.name, reason: backend.reason, text: map("f").buffer.toString() }));
  `], { cwd: dir, env, encoding: "utf8" });
  assert.equal(use.status, 0, use.stderr);
  const out = JSON.parse(use.stdout) as { name: string; reason: string; text: string };
  assert.equal(out.name, "portable");
  assert.equal(out.text, "still works");
  assert.ok(out.reason.includes(recorded.trim()), `the reason quotes the install step: ${out.reason}`);
  assert.match(out.reason, /npm rebuild memmap/);
});
