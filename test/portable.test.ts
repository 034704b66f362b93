// Backend selection, the portable backend's honest answers, and the native
// backend's fallback to copies where a runtime refuses external buffers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { adviseFile, backend, createOutput, map, mapAnonymous } from "memmap";
import { createRequire } from "node:module";
import { addonPath, ended, nativeOnly, pattern, portable, root, runChild, runFixture, tempDir, testAddonPath } from "./helpers.js";

const portableOnly = { skip: portable ? false : "portable backend only (the portable run covers it)" };

test("the backend in use is named, with the reason", () => {
  assert.equal(backend.name, portable ? "portable" : "native");
  if (portable) assert.equal(backend.reason, "MEMMAP_BACKEND=portable");
  // The Windows run forces the native backend (MEMMAP_BACKEND=native), and the reason says so.
  else assert.match(backend.reason, /^(MEMMAP_BACKEND=native: )?the native addon loaded \((build[\\/](Release|win)[\\/]memmap(_test)?\.node|prebuilds[\\/](linux-(x64|arm64)[\\/]memmap\.glibc|win32-x64[\\/]memmap)\.node)\)$/);
});

test("where the addon is absent, the portable backend is chosen and says why; forcing native is a clear error", () => {
  const t = tempDir();
  // A copy of the package without its build output.
  const pkg = join(t.dir, "node_modules", "memmap");
  mkdirSync(pkg, { recursive: true });
  cpSync(join(root, "dist"), join(pkg, "dist"), { recursive: true });
  cpSync(join(root, "package.json"), join(pkg, "package.json"));
  const code = `
    import { backend, map } from "memmap";
    import { writeFileSync } from "node:fs";
    writeFileSync("f", "works without the addon");
    const m = map("f");
    console.log(JSON.stringify({ name: backend.name, reason: backend.reason, text: m.buffer.toString() }));
    m.unmap();
  `;
  const run = (env: Record<string, string>) => {
    const { spawnSync } = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
    return spawnSync(process.execPath, ["--input-type=module", "-e", code], {
      cwd: t.dir, encoding: "utf8", env: { ...process.env, MEMMAP_BACKEND: "", ...env },
    });
  };
  const r = run({});
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { name: string; reason: string; text: string };
  assert.equal(out.name, "portable");
  assert.match(out.reason, /^the native addon could not be loaded \(/);
  assert.equal(out.reason.split("could not be loaded").length, 2, `said once: ${out.reason}`);
  assert.match(out.reason, /npm rebuild memmap/, "the reason names the fix");
  assert.match(out.reason, /build[\\/]Release[\\/]memmap\.node: not found/, "the reason lists what was tried");
  assert.equal(out.text, "works without the addon");
  const forced = run({ MEMMAP_BACKEND: "native" });
  assert.notEqual(forced.status, 0);
  assert.match(forced.stderr, /ERR_MEMMAP_NO_ADDON|MEMMAP_BACKEND=native, but/);
  const bogus = run({ MEMMAP_BACKEND: "fast" });
  assert.notEqual(bogus.status, 0);
  assert.match(bogus.stderr, /MEMMAP_BACKEND must be "native" or "portable"/);
});

const testAddon = testAddonPath;

test("where external buffers are refused, a native mapping degrades to copies and keeps its promises", {
  skip: portable ? "native backend only: this is the native backend's fallback"
    : !existsSync(testAddon) ? "needs the test build of the addon (npm run build:test-addon), which has the switch" : false,
}, () => {
  const t = tempDir();
  const p = t.file("refused", pattern(10_000));
  // The production addon has no switch: a child loads the test build (the
  // same code plus the switch) through MEMMAP_TEST_ADDON.
  const r = runFixture("portable-refused-external.mjs", { addon: testAddon, path: p }, [], { MEMMAP_TEST_ADDON: "1" });
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /degraded and kept its promises/, ended(r));
});

test("the production addon has no test switch", nativeOnly("it reads the built addon"), () => {
  const addon = createRequire(import.meta.url)(addonPath) as Record<string, unknown>;
  assert.equal(addon["setRefuseExternalForTest"], undefined);
});

test("the portable backend answers honestly: lock and exec are ENOTSUP, every page is resident, advice is accepted", portableOnly, async () => {
  const t = tempDir();
  const p = t.file("honest", pattern(3 * 4096 + 5));
  assert.throws(() => map(p, { lock: true }), { code: "ENOTSUP", syscall: "mlock" });
  assert.throws(() => map(p, { exec: true }), { code: "ENOTSUP" });
  assert.throws(() => mapAnonymous(10, { lock: true }), { code: "ENOTSUP" });
  assert.throws(() => adviseFile(p, "dontneed"), { code: "ENOTSUP", syscall: "posix_fadvise" });
  const m = map(p, { populate: true, hugePages: true });
  assert.throws(() => m.lock(), { code: "ENOTSUP" });
  m.unlock();
  m.advise("random");
  await m.prefetch();
  const r = m.residency();
  assert.equal(r.pages, 4);
  assert.equal(r.resident, 4);
  m.unmap();
});

test("portable: a write mapping whose memory was transferred away says so instead of losing the writes", portableOnly, () => {
  const t = tempDir();
  const p = t.file("moved", pattern(100));
  const m = map(p, { access: "write" });
  m.buffer.write("lost?", 0);
  structuredClone(m.buffer.buffer, { transfer: [m.buffer.buffer as ArrayBuffer] });
  assert.throws(() => m.flushSync(), { code: "ERR_MEMMAP_TRANSFERRED" });
  assert.throws(() => m.unmap(), { code: "ERR_MEMMAP_TRANSFERRED" });
});

test("portable: a write mapping dropped without unmap() is written back when it is collected", portableOnly, () => {
  const t = tempDir();
  const p = t.file("dropped", pattern(100));
  const r = runChild(`
    import { map } from "memmap";
    import { readFileSync } from "node:fs";
    (() => { const m = map(${JSON.stringify(p)}, { access: "write" }); m.buffer.write("kept", 0); })();
    for (let i = 0; i < 50 && readFileSync(${JSON.stringify(p)}, "utf8").slice(0, 4) !== "kept"; i++) {
      globalThis.gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    console.log(readFileSync(${JSON.stringify(p)}, "utf8").slice(0, 4));
  `, ["--expose-gc"], { MEMMAP_BACKEND: "portable" });
  assert.equal(r.status, 0, ended(r));
  assert.equal(r.stdout.trim(), "kept");
});

test("OutputFile on the current backend: same bytes as the heap path", () => {
  const t = tempDir();
  const a = t.file("a.out");
  const out = createOutput(a, { size: 1000 });
  out.write(0, pattern(1000));
  out.append("tail");
  out.commitSync();
  assert.ok(readFileSync(a).subarray(0, 1000).equals(pattern(1000)));
  assert.equal(readFileSync(a).toString("utf8", 1000), "tail");
});
