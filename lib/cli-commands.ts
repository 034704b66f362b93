// The `memmap` commands (lib/cli.ts): stat, touch, evict and lock, each over
// the regular files under the paths given.
import { lstatSync, readdirSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { adviseFile, map, pageSize, type Mapping } from "./index.js";
import { addToTotals, formatSize, newTotals, printReport, Progress, recordFailure, type Ctx, type FileResult, type Totals } from "./cli-report.js";

/**
 * Walks the paths and yields regular files; everything else is reported.
 * Synchronous system calls: a round trip through the thread pool per file
 * would cost more than the work itself (vmtouch does the same walk in C).
 */
function* walk(ctx: Ctx, totals: Totals, paths: string[]): Generator<{ path: string; size: number }> {
  const seen = new Set<string>();
  function* visit(path: string, top: boolean): Generator<{ path: string; size: number }> {
    let st: Stats;
    try {
      st = ctx.follow || top ? statSync(path) : lstatSync(path);
    } catch (e) {
      recordFailure(ctx, totals, path, e);
      return;
    }
    if (st.isSymbolicLink()) return; // not followed without -L, like vmtouch
    if (st.isDirectory()) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return; // a loop through links
      seen.add(key);
      totals.directories++;
      let names: string[];
      try {
        names = readdirSync(path).sort();
      } catch (e) {
        recordFailure(ctx, totals, path, e);
        return;
      }
      for (const name of names) yield* visit(join(path, name), false);
      return;
    }
    if (!st.isFile()) {
      const e = Object.assign(new Error("not a regular file (skipped)"), { code: "ENOTREG" });
      recordFailure(ctx, totals, path, e);
      return;
    }
    if (st.nlink > 1) {
      // A file with several names is counted once, as vmtouch does.
      const key = `f${st.dev}:${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    yield { path, size: st.size };
  }
  for (const p of paths) yield* visit(p, true);
}

function residentOf(m: Mapping | null, size: number): number {
  if (m === null || size === 0) return 0;
  return m.residency().resident;
}

function measureFile(path: string, size: number): FileResult {
  const pages = Math.ceil(size / pageSize);
  if (size === 0) return { path, size, pages: 0, resident: 0 };
  const m = map(path, { length: size });
  try {
    return { path, size, pages, resident: residentOf(m, size) };
  } finally {
    m.unmap();
  }
}

// Walks the paths and measures each file after `before` ran on it (if any).
function measureFiles(ctx: Ctx, paths: string[], command: string, label: string, before?: (path: string) => void): number {
  const t0 = performance.now();
  const totals = newTotals();
  const files: FileResult[] = [];
  for (const f of walk(ctx, totals, paths)) {
    try {
      before?.(f.path);
      const r = measureFile(f.path, f.size);
      addToTotals(totals, r);
      if (ctx.verbose) files.push(r);
    } catch (e) {
      recordFailure(ctx, totals, f.path, e);
    }
  }
  printReport(ctx, command, label, totals, files, (performance.now() - t0) / 1000);
  return totals.failed > 0 ? 1 : 0;
}

export async function cmdStat(ctx: Ctx, paths: string[]): Promise<number> {
  return measureFiles(ctx, paths, "stat", "Resident Pages");
}

const CHUNK = 64 * 1024 * 1024;

async function touchOne(path: string, size: number, progress: Progress): Promise<FileResult> {
  const pages = Math.ceil(size / pageSize);
  if (size === 0) return { path, size, pages: 0, resident: 0 };
  const m = map(path, { length: size });
  try {
    for (let offset = 0; offset < size; offset += CHUNK) {
      const length = Math.min(CHUNK, size - offset);
      await m.prefetch({ offset, length });
      progress.addBytes(length);
    }
    return { path, size, pages, resident: residentOf(m, size) };
  } finally {
    m.unmap();
  }
}

export async function cmdTouch(ctx: Ctx, paths: string[], jobs: number): Promise<number> {
  const t0 = performance.now();
  const totals = newTotals();
  const files: FileResult[] = [];
  const progress = new Progress(ctx);
  const queue: Array<{ path: string; size: number }> = [];
  for (const f of walk(ctx, totals, paths)) {
    queue.push(f);
    progress.countFile();
  }
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const f = queue[next++]!;
      try {
        const r = await touchOne(f.path, f.size, progress);
        addToTotals(totals, r);
        if (ctx.verbose) files.push(r);
      } catch (e) {
        recordFailure(ctx, totals, f.path, e);
      }
      progress.fileDone();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, queue.length)) }, worker));
  progress.end();
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  printReport(ctx, "touch", "Touched Pages", totals, files, (performance.now() - t0) / 1000);
  return totals.failed > 0 ? 1 : 0;
}

export async function cmdEvict(ctx: Ctx, paths: string[]): Promise<number> {
  return measureFiles(ctx, paths, "evict", "Still Resident", (path) => adviseFile(path, "dontneed"));
}

function memlockMessage(e: NodeJS.ErrnoException, size: number, bytes: boolean): string {
  return (
    `cannot lock ${formatSize(size, bytes)} (${e.code}): RLIMIT_MEMLOCK (ulimit -l) does not allow it; ` +
    "raise the limit or run with CAP_IPC_LOCK"
  );
}

export async function cmdLock(ctx: Ctx, paths: string[]): Promise<number> {
  const t0 = performance.now();
  const totals = newTotals();
  const files: FileResult[] = [];
  const held: Mapping[] = [];
  for (const f of walk(ctx, totals, paths)) {
    try {
      if (f.size === 0) {
        addToTotals(totals, { path: f.path, size: 0, pages: 0, resident: 0 });
        continue;
      }
      let m: Mapping;
      try {
        m = map(f.path, { length: f.size, lock: true });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === "ENOMEM" || err.code === "EPERM" || err.code === "EAGAIN") {
          throw Object.assign(new Error(memlockMessage(err, f.size, ctx.bytes)), { code: err.code });
        }
        throw e;
      }
      held.push(m);
      const r = { path: f.path, size: f.size, pages: Math.ceil(f.size / pageSize), resident: m.residency().resident };
      addToTotals(totals, r);
      if (ctx.verbose) files.push(r);
    } catch (e) {
      recordFailure(ctx, totals, f.path, e);
    }
  }
  const holding = held.length > 0;
  // The handlers go in before anything is printed: whoever reads "Holding"
  // may signal at once.
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  const released = new Promise<void>((resolve) => {
    if (!holding) return resolve();
    keepAlive = setInterval(() => undefined, 1 << 30);
    const release = () => {
      process.off("SIGINT", release);
      process.off("SIGTERM", release);
      resolve();
    };
    process.on("SIGINT", release);
    process.on("SIGTERM", release);
  });
  printReport(ctx, "lock", "Locked Pages", totals, files, (performance.now() - t0) / 1000, { holding });
  if (!holding) return totals.failed > 0 ? 1 : 0; // nothing to hold
  if (!ctx.json) ctx.out.write("Holding the pages locked; SIGINT or SIGTERM unlocks and exits.\n");
  await released;
  clearInterval(keepAlive);
  for (const m of held) m.unmap();
  if (!ctx.json) ctx.out.write(`Unlocked ${held.length} file${held.length === 1 ? "" : "s"}.\n`);
  return totals.failed > 0 ? 1 : 0;
}
