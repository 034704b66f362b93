// The lifetime state machine (src/core/lease.h) seen from JavaScript: calls
// that reach the addon while unmap() or release() is under way. Each case
// runs in a child on the test addon, whose Lease aborts on a step its table
// does not have, so a wrong step is an abort here, not a quiet corruption.
// The unit tests of each step without V8 are test/native/lease_test.cc.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ended, nativeOnly, onWindows, pattern, root, skipIf, tempDir } from "./helpers.js";

const PAGE = 4096;
const fixture = join(root, "test", "fixtures", "lease-steps.mjs");
// The file is truncated under the mapping: Windows refuses that while it is mapped.
const truncates = skipIf(nativeOnly("the fault guard belongs to the native backend"),
  { skip: onWindows ? "not on Windows: a mapped file cannot be truncated there" : false });

function runCase(kase: string): { out: Record<string, unknown>; how: string } {
  const t = tempDir();
  const file = t.file(`${kase}.bin`, pattern(16 * PAGE));
  const r = spawnSync(process.execPath, [fixture, kase, file], {
    cwd: root, encoding: "utf8", env: { ...process.env, MEMMAP_TEST_ADDON: "1" }, timeout: 120_000,
  });
  const how = ended({ status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ...(r.error ? { error: r.error } : {}) });
  assert.equal(r.signal, null, how);
  assert.equal(r.status, 0, how);
  return { out: JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>, how };
}

test("unmap() called by the fault callback while release() runs: refused (false), the release goes on, no abort", truncates, () => {
  const { out, how } = runCase("unmap-in-release");
  assert.deepEqual(out["nested"], { returned: false }, how);
  assert.deepEqual(out["released"], { returned: true }, how);
  assert.equal(out["closed"], true, how);
});

test("unmap() with a waitAsync() pending still reports the writes lost past a truncated file's end", truncates, () => {
  const { out, how } = runCase("lost-writes-with-wait");
  assert.deepEqual(out["unmapped"], { code: "ERR_MEMMAP_TRUNCATED" }, how);
  assert.deepEqual(out["waited"], { code: "ERR_MEMMAP_CLOSED" }, how);
});
