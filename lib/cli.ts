// The `memmap` command: see and steer what the page cache holds, in the
// spirit of vmtouch and fincore. A thin layer over the public API only.
//
// Exit codes: 0 everything was processed, 1 some files failed, 2 usage error.
import { parseArgs } from "node:util";
import { lstatSync, readdirSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { adviseFile, backend, map, pageSize, type Mapping } from "./index.js";

interface FileResult {
  path: string;
  size: number;
  pages: number;
  resident: number;
}

interface Totals {
  files: number;
  directories: number;
  pages: number;
  resident: number;
  size: number;
  failed: number;
}

interface Ctx {
  verbose: boolean;
  json: boolean;
  follow: boolean;
  bytes: boolean;
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  errors: Array<{ path: string; code: string; message: string }>;
}

// The options every command takes (stat spells -L and --bytes out further).
const COMMON_OPTIONS = `  -v, --verbose   one line per file
      --json      JSON on stdout
  -L, --follow    follow symbolic links
      --bytes     sizes in bytes
  -h, --help      this help`;

const HELP: Record<string, string> = {
  main: `Usage: memmap <command> [options] [paths...]

See and steer what the page cache holds (like vmtouch).

Commands:
  stat    how much of each file is in memory (default: the current directory)
  touch   read files into the page cache
  evict   drop files from the page cache
  lock    lock files in memory until SIGINT/SIGTERM

Run "memmap <command> --help" for a command's options.
Exit codes: 0 all processed, 1 some files failed, 2 usage error.`,
  stat: `Usage: memmap stat [options] [paths...]

Prints resident pages / total pages, resident bytes / size and the percentage
of the files under each path (default: the current directory), in total and,
with -v, for each file.

Options:
  -v, --verbose   one line per file
      --json      JSON on stdout
  -L, --follow    follow symbolic links (a file reached through a link is
                  counted under that name too, as vmtouch -f does; hard
                  links are counted once)
      --bytes     sizes in bytes, not KiB/MiB/GiB
  -h, --help      this help`,
  touch: `Usage: memmap touch [options] [paths...]

Reads the files into the page cache, off the main thread, several at a time,
with a progress bar on a terminal.

Options:
  -j, --jobs N    files in flight (default 4)
${COMMON_OPTIONS}`,
  evict: `Usage: memmap evict [options] [paths...]

Drops the files from the page cache (posix_fadvise DONTNEED) and reports what
remained resident (dirty pages stay until they are written back).

Options:
${COMMON_OPTIONS}`,
  lock: `Usage: memmap lock [options] [paths...]

Maps the files and locks them in memory (mlock), prints what is locked, and
holds them until SIGINT or SIGTERM, then unlocks and exits 0. Locking needs
RLIMIT_MEMLOCK (ulimit -l) to allow it, or CAP_IPC_LOCK.

Options:
${COMMON_OPTIONS}`,
};

export function formatSize(n: number, bytes: boolean): string {
  if (bytes) return String(n);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

// vmtouch prints the percentage with %.3g.
export function formatPercent(resident: number, pages: number): string {
  if (pages === 0) return "0%";
  return `${Number(((100 * resident) / pages).toPrecision(3))}%`;
}

function fail(ctx: Ctx, totals: Totals, path: string, e: unknown): void {
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? "ERROR";
  const message = err.message ?? String(e);
  totals.failed++;
  ctx.errors.push({ path, code, message });
  ctx.err.write(`memmap: ${path}: ${message}\n`);
}

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
      fail(ctx, totals, path, e);
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
        fail(ctx, totals, path, e);
        return;
      }
      for (const name of names) yield* visit(join(path, name), false);
      return;
    }
    if (!st.isFile()) {
      const e = Object.assign(new Error("not a regular file (skipped)"), { code: "ENOTREG" });
      fail(ctx, totals, path, e);
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

function measure(path: string, size: number): FileResult {
  const pages = Math.ceil(size / pageSize);
  if (size === 0) return { path, size, pages: 0, resident: 0 };
  const m = map(path, { length: size });
  try {
    return { path, size, pages, resident: residentOf(m, size) };
  } finally {
    m.unmap();
  }
}

function add(totals: Totals, r: FileResult): void {
  totals.files++;
  totals.pages += r.pages;
  totals.resident += r.resident;
  totals.size += r.size;
}

function fileLine(ctx: Ctx, r: FileResult): string {
  return `${r.path}  ${r.resident}/${r.pages} pages  ${formatSize(r.resident * pageSize, ctx.bytes)}/${formatSize(r.size, ctx.bytes)}  ${formatPercent(r.resident, r.pages)}`;
}

function summary(ctx: Ctx, totals: Totals, label: string, seconds: number): string {
  const pad = (s: string) => s.padStart(17); // vmtouch's alignment
  const lines = [
    `${pad("Files:")} ${totals.files}`,
    `${pad("Directories:")} ${totals.directories}`,
    `${pad(`${label}:`)} ${totals.resident}/${totals.pages}  ${formatSize(totals.resident * pageSize, ctx.bytes)}/${formatSize(totals.size, ctx.bytes)}  ${formatPercent(totals.resident, totals.pages)}`,
  ];
  if (totals.failed > 0) lines.push(`${pad("Failed:")} ${totals.failed}`);
  lines.push(`${pad("Elapsed:")} ${seconds.toFixed(6)} seconds`);
  return lines.join("\n");
}

function report(ctx: Ctx, command: string, label: string, totals: Totals, files: FileResult[], seconds: number, extra: Record<string, unknown> = {}): void {
  if (ctx.json) {
    const out: Record<string, unknown> = {
      command,
      pageSize,
      totals: {
        files: totals.files, directories: totals.directories, pages: totals.pages, residentPages: totals.resident,
        size: totals.size, residentBytes: totals.resident * pageSize,
        percent: totals.pages === 0 ? 0 : (100 * totals.resident) / totals.pages, failed: totals.failed,
      },
      elapsedSeconds: seconds,
      errors: ctx.errors,
      ...extra,
    };
    if (ctx.verbose) out["files"] = files.map((f) => ({ ...f, residentBytes: f.resident * pageSize }));
    ctx.out.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  if (ctx.verbose) for (const f of files) ctx.out.write(`${fileLine(ctx, f)}\n`);
  ctx.out.write(`${summary(ctx, totals, label, seconds)}\n`);
}

function newTotals(): Totals {
  return { files: 0, directories: 0, pages: 0, resident: 0, size: 0, failed: 0 };
}

// Walks the paths and measures each file after `before` ran on it (if any).
function measureAll(ctx: Ctx, paths: string[], command: string, label: string, before?: (path: string) => void): number {
  const t0 = performance.now();
  const totals = newTotals();
  const files: FileResult[] = [];
  for (const f of walk(ctx, totals, paths)) {
    try {
      before?.(f.path);
      const r = measure(f.path, f.size);
      add(totals, r);
      if (ctx.verbose) files.push(r);
    } catch (e) {
      fail(ctx, totals, f.path, e);
    }
  }
  report(ctx, command, label, totals, files, (performance.now() - t0) / 1000);
  return totals.failed > 0 ? 1 : 0;
}

async function cmdStat(ctx: Ctx, paths: string[]): Promise<number> {
  return measureAll(ctx, paths, "stat", "Resident Pages");
}

const CHUNK = 64 * 1024 * 1024;

class Progress {
  #ctx: Ctx;
  #files = 0;
  #bytes = 0;
  #totalFiles = 0;
  #t0 = performance.now();
  #last = 0;
  readonly enabled: boolean;
  constructor(ctx: Ctx) {
    this.#ctx = ctx;
    this.enabled = ctx.out.isTTY === true && !ctx.json;
  }
  found(): void {
    this.#totalFiles++;
  }
  bytes(n: number): void {
    this.#bytes += n;
    this.draw();
  }
  file(): void {
    this.#files++;
    this.draw();
  }
  draw(force = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const width = 30;
    const done = this.#totalFiles === 0 ? 0 : Math.round((width * this.#files) / this.#totalFiles);
    const rate = this.#bytes / Math.max((now - this.#t0) / 1000, 1e-3);
    this.#ctx.out.write(
      `\r[${"#".repeat(done)}${" ".repeat(width - done)}] ${this.#files}/${this.#totalFiles} files  ` +
        `${formatSize(this.#bytes, false)}  ${formatSize(Math.round(rate), false)}/s  `,
    );
  }
  end(): void {
    if (!this.enabled) return;
    this.draw(true);
    this.#ctx.out.write("\n");
  }
}

async function touchOne(path: string, size: number, progress: Progress): Promise<FileResult> {
  const pages = Math.ceil(size / pageSize);
  if (size === 0) return { path, size, pages: 0, resident: 0 };
  const m = map(path, { length: size });
  try {
    for (let offset = 0; offset < size; offset += CHUNK) {
      const length = Math.min(CHUNK, size - offset);
      await m.prefetch({ offset, length });
      progress.bytes(length);
    }
    return { path, size, pages, resident: residentOf(m, size) };
  } finally {
    m.unmap();
  }
}

async function cmdTouch(ctx: Ctx, paths: string[], jobs: number): Promise<number> {
  const t0 = performance.now();
  const totals = newTotals();
  const files: FileResult[] = [];
  const progress = new Progress(ctx);
  const queue: Array<{ path: string; size: number }> = [];
  for (const f of walk(ctx, totals, paths)) {
    queue.push(f);
    progress.found();
  }
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const f = queue[next++]!;
      try {
        const r = await touchOne(f.path, f.size, progress);
        add(totals, r);
        if (ctx.verbose) files.push(r);
      } catch (e) {
        fail(ctx, totals, f.path, e);
      }
      progress.file();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, queue.length)) }, worker));
  progress.end();
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  report(ctx, "touch", "Touched Pages", totals, files, (performance.now() - t0) / 1000);
  return totals.failed > 0 ? 1 : 0;
}

async function cmdEvict(ctx: Ctx, paths: string[]): Promise<number> {
  return measureAll(ctx, paths, "evict", "Still Resident", (path) => adviseFile(path, "dontneed"));
}

function memlockMessage(e: NodeJS.ErrnoException, size: number, bytes: boolean): string {
  return (
    `cannot lock ${formatSize(size, bytes)} (${e.code}): RLIMIT_MEMLOCK (ulimit -l) does not allow it; ` +
    "raise the limit or run with CAP_IPC_LOCK"
  );
}

async function cmdLock(ctx: Ctx, paths: string[]): Promise<number> {
  const t0 = performance.now();
  const totals = newTotals();
  const files: FileResult[] = [];
  const held: Mapping[] = [];
  for (const f of walk(ctx, totals, paths)) {
    try {
      if (f.size === 0) {
        add(totals, { path: f.path, size: 0, pages: 0, resident: 0 });
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
      add(totals, r);
      if (ctx.verbose) files.push(r);
    } catch (e) {
      fail(ctx, totals, f.path, e);
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
  report(ctx, "lock", "Locked Pages", totals, files, (performance.now() - t0) / 1000, { holding });
  if (!holding) return totals.failed > 0 ? 1 : 0; // nothing to hold
  if (!ctx.json) ctx.out.write("Holding the pages locked; SIGINT or SIGTERM unlocks and exits.\n");
  await released;
  clearInterval(keepAlive);
  for (const m of held) m.unmap();
  if (!ctx.json) ctx.out.write(`Unlocked ${held.length} file${held.length === 1 ? "" : "s"}.\n`);
  return totals.failed > 0 ? 1 : 0;
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function main(
  argv: string[],
  out: NodeJS.WriteStream = process.stdout,
  err: NodeJS.WriteStream = process.stderr,
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    (command === undefined ? err : out).write(`${HELP["main"]}\n`);
    return command === undefined ? 2 : 0;
  }
  if (!(command in HELP) || command === "main") {
    err.write(`memmap: unknown command '${command}'\n\n${HELP["main"]}\n`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        verbose: { type: "boolean", short: "v" },
        json: { type: "boolean" },
        follow: { type: "boolean", short: "L" },
        bytes: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        ...(command === "touch" ? { jobs: { type: "string", short: "j" } } : {}),
      },
    });
  } catch (e) {
    err.write(`memmap ${command}: ${(e as Error).message}\n\n${HELP[command]}\n`);
    return 2;
  }
  const v = parsed.values as { verbose?: boolean; json?: boolean; follow?: boolean; bytes?: boolean; help?: boolean; jobs?: string };
  if (v.help) {
    out.write(`${HELP[command]}\n`);
    return 0;
  }
  const ctx: Ctx = {
    verbose: v.verbose === true, json: v.json === true, follow: v.follow === true, bytes: v.bytes === true,
    out, err, errors: [],
  };
  const paths = parsed.positionals.length > 0 ? parsed.positionals : ["."];
  const jobs = v.jobs === undefined ? 4 : Number(v.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 1024) {
    err.write(`memmap ${command}: --jobs must be a whole number from 1 to 1024, not '${v.jobs}'\n`);
    return 2;
  }
  if (backend.name !== "native") {
    // The page cache is only visible through real mappings: say so rather
    // than report the portable backend's heap copies as "resident".
    err.write(`memmap ${command}: needs the native backend, and the portable one is active (${backend.reason})\n`);
    return 1;
  }
  switch (command) {
    case "stat":
      return await cmdStat(ctx, paths);
    case "touch":
      return await cmdTouch(ctx, paths, jobs);
    case "evict":
      return await cmdEvict(ctx, paths);
    default:
      return await cmdLock(ctx, paths);
  }
}
