// The `memmap` command, run as a child process against files it creates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { pageSize } from "memmap";
import { nativeOnly, notOnWindows, pattern, portable, root, skipIf, tempDir } from "./helpers.js";

const ONLY = nativeOnly("the page-cache commands need real mappings; on the portable backend the command refuses (tested below)");

const BIN = join(root, "bin", "memmap.js");

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: root, encoding: "utf8", env: { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function has(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
}

// Written and fsync'd, so that evicting really drops the pages.
function durable(path: string, data: Uint8Array): void {
  const fd = openSync(path, "w");
  writeSync(fd, data);
  fsyncSync(fd);
  closeSync(fd);
}

function tree() {
  const t = tempDir();
  mkdirSync(join(t.dir, "sub"));
  durable(join(t.dir, "a.bin"), pattern(10 * pageSize + 1));
  durable(join(t.dir, "sub", "b.bin"), pattern(3 * pageSize));
  durable(join(t.dir, "sub", "empty"), new Uint8Array(0));
  durable(join(t.dir, "c.txt"), Buffer.from("hello\n"));
  return t;
}

interface Json {
  totals: { files: number; directories: number; pages: number; residentPages: number; size: number; percent: number; failed: number };
  files?: Array<{ path: string; pages: number; resident: number; size: number }>;
  errors: Array<{ path: string; code: string }>;
}

function json(args: string[]): Json {
  const r = cli([...args, "--json"]);
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  return JSON.parse(r.stdout) as Json;
}

test("stat agrees with fincore and vmtouch: pages, resident pages, percentage", skipIf(ONLY, notOnWindows("fincore and vmtouch are Linux tools, and Windows shows no file-cache residency to compare with (a mapping's residency there is this process's working set)")), (t) => {
  const tr = tree();
  cli(["evict", join(tr.dir, "a.bin")]);
  cli(["touch", join(tr.dir, "sub")]);
  const ours = json(["stat", "-v", tr.dir]);
  assert.equal(ours.totals.files, 4);
  assert.equal(ours.totals.directories, 2);
  assert.equal(ours.totals.pages, 11 + 3 + 0 + 1);
  assert.equal(ours.totals.failed, 0);
  const byName = new Map(ours.files!.map((f) => [f.path.slice(tr.dir.length + 1), f]));
  assert.equal(byName.get("a.bin")!.resident, 0, "evicted");
  assert.equal(byName.get("sub/b.bin")!.resident, 3, "touched");
  if (has("fincore")) {
    for (const [name, f] of byName) {
      if (f.size === 0) continue;
      const out = execFileSync("fincore", ["--raw", "--noheadings", "--output", "PAGES", join(tr.dir, name)], { encoding: "utf8" });
      assert.equal(Number(out.trim()), f.resident, `fincore on ${name}`);
    }
  } else {
    t.diagnostic("fincore is not installed: per-file comparison skipped");
  }
  if (has("vmtouch")) {
    const out = execFileSync("vmtouch", [tr.dir], { encoding: "utf8" });
    const m = /Resident Pages: (\d+)\/(\d+)\s+\S+\s+([\d.]+)%/.exec(out);
    assert.ok(m, out);
    assert.equal(Number(m[1]), ours.totals.residentPages);
    assert.equal(Number(m[2]), ours.totals.pages);
    const human = cli(["stat", tr.dir]).stdout;
    assert.match(human, new RegExp(`Resident Pages: ${m[1]}/${m[2]} .* ${m[3]}%`), human);
    assert.match(out, /Files: 4/);
  } else {
    t.diagnostic("vmtouch is not installed: total comparison skipped");
  }
});

test("touch reads files in and evict drops them; plain summary when not on a terminal", skipIf(ONLY, notOnWindows("evict needs posix_fadvise(POSIX_FADV_DONTNEED), which Windows does not have (ENOTSUP)")), () => {
  const tr = tree();
  const evicted = json(["evict", tr.dir]);
  assert.equal(evicted.totals.residentPages, 0);
  const r = cli(["touch", "-j", "2", tr.dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /\r/, "no progress bar off a terminal");
  assert.match(r.stdout, /Touched Pages: 15\/15 .* 100%/);
  assert.equal(json(["stat", tr.dir]).totals.residentPages, 15);
  const again = cli(["evict", "-v", "--bytes", join(tr.dir, "a.bin")]);
  assert.match(again.stdout, new RegExp(`a\\.bin  0/11 pages  0/${10 * pageSize + 1}  0%`));
});

test("touch draws a progress bar (files, bytes, rate) on a terminal", ONLY, (t) => {
  if (!has("script")) {
    t.skip("script (util-linux) is not installed: no pseudo-terminal to run the command in");
    return;
  }
  const tr = tree();
  // script(1) gives the command a pseudo-terminal, as a person would have.
  const r = spawnSync("script", ["-qec", `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} touch ${JSON.stringify(tr.dir)}`, "/dev/null"], {
    cwd: root, encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\r\[#+\] 4\/4 files  [\d.]+ (B|KiB|MiB)  [\d.]+ (B|KiB|MiB|GiB)\/s/, JSON.stringify(r.stdout));
  assert.match(r.stdout, /Touched Pages: 15\/15/);
});

test("special files, dangling links and unreadable paths are reported and counted, never fatal; exit 1", skipIf(ONLY, notOnWindows("FIFOs (mkfifo) and symbolic links are POSIX")), () => {
  const tr = tree();
  execFileSync("mkfifo", [join(tr.dir, "fifo")]);
  symlinkSync(join(tr.dir, "gone"), join(tr.dir, "dangling"));
  symlinkSync(join(tr.dir, "a.bin"), join(tr.dir, "link-to-a"));
  const plain = cli(["stat", tr.dir]);
  assert.equal(plain.status, 1);
  assert.match(plain.stderr, /fifo: not a regular file/);
  assert.match(plain.stdout, /Files: 4\n/, "links are not followed without -L");
  const followed = json(["stat", "-L", tr.dir]);
  assert.equal(followed.totals.failed, 2, JSON.stringify(followed.errors));
  assert.deepEqual(followed.errors.map((e) => e.code).sort(), ["ENOENT", "ENOTREG"]);
  assert.equal(followed.totals.files, 5, "with -L, a.bin is counted under its link's name too, as vmtouch -f does");
  const missing = cli(["stat", join(tr.dir, "nope"), join(tr.dir, "c.txt")]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /ENOENT/);
  assert.match(missing.stdout, /Files: 1\n/);
});

test("usage errors exit 2; --help exits 0 for every command", () => {
  for (const args of [[], ["frobnicate"], ["stat", "--nope"], ["touch", "-j", "0"], ["touch", "--jobs", "x"]]) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
  }
  for (const c of ["stat", "touch", "evict", "lock"]) {
    const r = cli([c, "--help"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, new RegExp(`Usage: memmap ${c}`));
  }
  assert.equal(cli(["--help"]).status, 0);
});

test("lock holds the pages locked until SIGTERM, then unlocks and exits 0", skipIf(ONLY, notOnWindows("it has no SIGTERM to send (kill() terminates)")), async () => {
  const tr = tree();
  const child = spawn(process.execPath, [BIN, "lock", tr.dir], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: string) => {
      stdout += d;
      if (stdout.includes("Holding")) resolve();
    });
    child.once("exit", (c) => reject(new Error(`exited early with ${c}: ${stdout}`)));
  });
  const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
  const vmlck = Number(/VmLck:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
  assert.ok(vmlck >= 15 * pageSize, `VmLck ${vmlck}`);
  assert.match(stdout, /Locked Pages: 15\/15/);
  child.kill("SIGTERM");
  // "close", not "exit": the last lines may still be in the pipe when the command has exited.
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once("close", (c, s) => resolve([c, s])));
  assert.equal(signal, null);
  assert.equal(code, 0);
  assert.match(stdout, /Unlocked 3 files/);
});

test("lock names RLIMIT_MEMLOCK when the limit refuses", ONLY, (t) => {
  if (!has("setpriv")) {
    t.skip("setpriv (util-linux) is not installed: cannot drop CAP_IPC_LOCK to test the limit");
    return;
  }
  const tr = tempDir();
  const big = tr.file("big.bin");
  durable(big, new Uint8Array(4 << 20));
  // Without CAP_IPC_LOCK and with a 64 KiB limit, locking 4 MiB is refused.
  const r = spawnSync("bash", ["-c", 'ulimit -l 64 && exec setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock "$@"', "sh",
    process.execPath, BIN, "lock", big], { cwd: root, encoding: "utf8", timeout: 60_000 });
  if (/setpriv:/.test(r.stderr)) {
    t.skip(`setpriv refused here: ${r.stderr.trim()}`);
    return;
  }
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /RLIMIT_MEMLOCK/);
});

test("a big file is read in by touch in chunks and counted right", ONLY, () => {
  const tr = tempDir();
  const p = tr.file("big.bin");
  const fd = openSync(p, "w");
  const chunk = Buffer.alloc(1 << 20, 7);
  for (let i = 0; i < 80; i++) writeSync(fd, chunk);
  fsyncSync(fd);
  closeSync(fd);
  writeFileSync(tr.file("small"), "x");
  cli(["evict", tr.dir]);
  const r = json(["touch", tr.dir]);
  assert.equal(r.totals.pages, (80 << 20) / pageSize + 1);
  assert.equal(r.totals.residentPages, r.totals.pages);
});

test("on the portable backend the command refuses, naming the reason", { skip: portable ? false : "portable backend only" }, () => {
  const r = cli(["stat", "."]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /needs the native backend.*MEMMAP_BACKEND=portable/);
});
