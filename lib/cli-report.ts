// What the `memmap` command prints (lib/cli.ts): the totals and each file's
// line as vmtouch prints them, or JSON; failures on stderr; touch's
// progress bar on a terminal.
import { performance } from "node:perf_hooks";
import { pageSize } from "./index.js";

export interface FileResult {
  path: string;
  size: number;
  pages: number;
  resident: number;
}

export interface Totals {
  files: number;
  directories: number;
  pages: number;
  resident: number;
  size: number;
  failed: number;
}

export interface Ctx {
  verbose: boolean;
  json: boolean;
  follow: boolean;
  bytes: boolean;
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  errors: Array<{ path: string; code: string; message: string }>;
}

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

export function recordFailure(ctx: Ctx, totals: Totals, path: string, e: unknown): void {
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? "ERROR";
  const message = err.message ?? String(e);
  totals.failed++;
  ctx.errors.push({ path, code, message });
  ctx.err.write(`memmap: ${path}: ${message}\n`);
}

export function newTotals(): Totals {
  return { files: 0, directories: 0, pages: 0, resident: 0, size: 0, failed: 0 };
}

export function addToTotals(totals: Totals, r: FileResult): void {
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

export function printReport(ctx: Ctx, command: string, label: string, totals: Totals, files: FileResult[], seconds: number, extra: Record<string, unknown> = {}): void {
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

export class Progress {
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
  countFile(): void {
    this.#totalFiles++;
  }
  addBytes(n: number): void {
    this.#bytes += n;
    this.draw();
  }
  fileDone(): void {
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
