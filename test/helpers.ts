// Shared test helpers: temporary files and child processes.
import { afterEach } from "node:test";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(fileURLToPath(new URL("..", import.meta.url)));

const tempDirs = new Set<string>();
function removeTempDirs(): void {
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    } catch (e) {
      // Windows refuses to delete a file that a mapping still holds (one
      // released, or dropped and not yet collected): such a folder is tried
      // again after the next test, and at exit. Elsewhere it is an error.
      if (process.platform !== "win32") throw e;
    }
  }
}
// Every test's temporary folders go after it, passed or failed (a top-level
// hook: it applies to every test of a file that imports this one). Bun runs
// every file in one process and evaluates this module once, so the hook
// covers only the first file there: the exit hook removes the rest.
afterEach(removeTempDirs);
process.on("exit", removeTempDirs);

/** A temporary folder, removed after the test that made it. */
export function tempDir(): { dir: string; file(name: string, data?: string | Uint8Array): string } {
  const dir = mkdtempSync(join(tmpdir(), "memmap-test-"));
  tempDirs.add(dir);
  return {
    dir,
    file(name, data) {
      const p = join(dir, name);
      if (data !== undefined) writeFileSync(p, data);
      return p;
    },
  };
}

/** Deterministic bytes: byte i is (i * 31 + 7) & 0xff. */
export function pattern(length: number, seed = 7): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Why the child could not be started or waited for (spawnSync's error: ENOENT, ETIMEDOUT, ENOBUFS...). */
  error?: Error;
}

/**
 * Runs `code` (an ES module that may import "memmap") in a child Node process
 * and reports how it ended: the crash tests assert on status and signal.
 */
/** How long runChild() lets a child run before it is killed (SIGTERM). */
export const CHILD_TIMEOUT_MS = 8 * 60 * 1000;

export function runChild(code: string, args: string[] = [], env: Record<string, string> = {}): ChildResult {
  const r = spawnSync(process.execPath, [...args, "--input-type=module", "-e", code], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
    // A child that hangs fails its test (ETIMEDOUT, shown by ended()) instead
    // of holding CI until its budget runs out. No child needs a tenth of it.
    timeout: CHILD_TIMEOUT_MS,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ...(r.error ? { error: r.error } : {}) };
}

/**
 * Runs test/fixtures/<name> (an ES module that may import "memmap") in a
 * child process, as runChild() runs code: `params` reach it as its one
 * argument, in JSON (test/fixtures/params.mjs reads them), `args` go to the
 * runtime before the file.
 */
export function runFixture(name: string, params: Record<string, unknown> = {}, args: string[] = [], env: Record<string, string> = {}): ChildResult {
  const r = spawnSync(process.execPath, [...args, join(root, "test", "fixtures", name), JSON.stringify(params)], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
    timeout: CHILD_TIMEOUT_MS,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ...(r.error ? { error: r.error } : {}) };
}

/** Human-readable summary of how a child ended, for assertion messages. */
export function ended(r: ChildResult): string {
  const error = r.error ? `spawn error: ${r.error.message}\n` : "";
  return `${error}status=${r.status} signal=${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** True on the test run against the portable backend (MEMMAP_BACKEND=portable). */
export const portable = process.env["MEMMAP_BACKEND"] === "portable";

/**
 * Options for a test that only makes sense on the native backend; the
 * portable run skips it and says why.
 */
export function nativeOnly(reason: string): { skip: string | false } {
  return { skip: portable ? `native backend only: ${reason}` : false };
}

/** True under Windows (the suite runs there under wine: npm run test:windows). */
export const onWindows = process.platform === "win32";

/**
 * Options for a test of something Windows does not have (a Linux tool,
 * /proc, signals, POSIX-only calls); the Windows run skips it and says why.
 */
export function notOnWindows(reason: string): { skip: string | false } {
  return { skip: onWindows ? `not on Windows: ${reason}` : false };
}

/**
 * The production addon, the one `memmap` loads (tests read its stats()):
 * the source build on Linux, the cross-built prebuild on Windows.
 */
export const addonPath = join(root, ...(onWindows ? ["prebuilds", "win32-x64", "memmap.node"] : ["build", "Release", "memmap.node"]));
/** The test build of the addon (MEMMAP_TEST_ADDON). */
export const testAddonPath = join(root, ...(onWindows ? ["build", "win", "memmap_test.node"] : ["build", "Release", "memmap_test.node"]));

/**
 * Whether the addon under test is the macOS-paths build (`npm run
 * test:darwin-paths`: Linux, taking macOS's branches; its `system` says
 * "darwin-paths"), or the real macOS one: where the platform's own rules
 * differ (shared memory sized once, no writable and executable memory, no
 * limit on mappings to read, ulock's waits), the tests expect those.
 */
export const darwinPaths = process.env["MEMMAP_DARWIN_PATHS"] === "1";
export const darwinRules = darwinPaths || process.platform === "darwin";
/** Apple Silicon maps no writable and executable memory (the macOS-paths build plays it): `exec` is ENOTSUP there. */
export const writableExecRefused = darwinPaths || (process.platform === "darwin" && process.arch === "arm64");

/** The first of several skip conditions that holds (node:test options). */
export function skipIf(...conditions: Array<{ skip: string | false }>): { skip: string | false } {
  return { skip: conditions.map((c) => c.skip).find((s) => s !== false) ?? false };
}

/**
 * Mounts a 1 MiB tmpfs on `dir` (an empty folder), for tests that run a
 * disk out: null, or why it could not (not root, no mount namespace), for
 * the test to skip with. The test unmounts it (`umount -l`) when done.
 */
export function mountSmallTmpfs(dir: string): string | null {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "memmap-test", dir], { stdio: "pipe" });
    return null;
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e).trim() || "mount failed";
  }
}
