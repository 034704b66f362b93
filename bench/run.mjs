// The benchmark suite: drivers x trials, each run in a fresh process, several
// runs each; prints medians, min-max and ratios, and writes docs/benchmark.md.
// Usage: npm run bench [-- --runs N] [-- trial ...]
// A run of some trials replaces only their sections of docs/benchmark.md;
// each section says when, on what and how many runs it was measured, so a
// figure never outlives the code it describes unnoticed.
// Timing never decides a test: this output is the evidence.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const args = process.argv.slice(2);
let runs = 5;
const wanted = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runs") runs = Number(args[++i]);
  else wanted.push(args[i]);
}
const trials = readdirSync(join(here, "trials"))
  .filter((f) => f.endsWith(".mjs"))
  .map((f) => f.slice(0, -4))
  .filter((t) => wanted.length === 0 || wanted.includes(t));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, d = 1) => x.toFixed(d);

async function runDriver(name, driver, variantIndex, env = {}) {
  const ms = [];
  const rss = [];
  const anon = [];
  const after = [];
  let skipped = null;
  for (let r = 0; r < runs && skipped === null; r++) {
    const workdir = mkdtempSync(join(tmpdir(), "memmap-bench-"));
    const argv = [join(here, "trial.mjs"), name, driver, workdir];
    if (variantIndex !== undefined) argv.push(String(variantIndex));
    const res = spawnSync(process.execPath, argv, { cwd: root, encoding: "utf8", maxBuffer: 16 << 20, env: { ...process.env, ...env } });
    rmSync(workdir, { recursive: true, force: true });
    if (res.status !== 0) {
      skipped = (res.stderr || res.stdout).trim().split("\n").filter(Boolean).slice(-1)[0] ?? `exit ${res.status}`;
      break;
    }
    const out = JSON.parse(res.stdout.trim().split("\n").pop());
    ms.push(out.ms);
    rss.push(out.maxRssKiB / 1024);
    anon.push(out.peakAnonKiB / 1024);
    after.push(out.afterMs);
  }
  return { driver, ms, rss, anon, after, skipped };
}

function table(trial, rows, heading) {
  const base = rows.find((r) => r.driver === trial.baseline && !r.skipped);
  const baseMs = base ? median(base.ms) : NaN;
  const lines = [
    heading,
    "",
    `| driver | median ms | min–max ms | time vs ${trial.baseline} | peak RSS MiB | peak private MiB | 100k statSync after, ms |`,
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    if (r.skipped) {
      lines.push(`| ${r.driver} | skipped: ${r.skipped.replace(/\|/g, "/")} | | | | | |`);
      continue;
    }
    const m = median(r.ms);
    const isC = r.driver.startsWith("C ");
    const mem = isC ? "(own process)" : fmt(median(r.rss));
    const priv = isC ? "" : fmt(median(r.anon));
    lines.push(`| ${r.driver} | ${fmt(m, m < 10 ? 2 : 1)} | ${fmt(Math.min(...r.ms), 1)}–${fmt(Math.max(...r.ms), 1)} | ${fmt(m / baseMs, 2)}x | ${mem} | ${priv} | ${fmt(median(r.after), 0)} |`);
  }
  return { text: lines.join("\n"), baseMs, rows };
}

// Under each heading: when and on what it was measured.
const measured = `Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${cpus().length} cores, ${runs} runs of each driver.`;
const sections = [];
for (const name of trials) {
  const trial = await import(join(here, "trials", `${name}.mjs`));
  const variants = trial.variants ?? [undefined];
  const results = [];
  for (let vi = 0; vi < variants.length; vi++) {
    const variant = variants[vi];
    const rows = [];
    for (const driver of Object.keys(trial.drivers)) {
      const row = await runDriver(name, driver, variant === undefined ? undefined : vi, trial.env?.[driver]);
      rows.push(row);
      process.stderr.write(`${name}${variant ? ` [${variant.name}]` : ""} / ${driver}: ${row.skipped ?? `${fmt(median(row.ms))} ms`}\n`);
    }
    const heading = variant ? `### ${trial.variantHeading ? trial.variantHeading(variant) : `${variant.name} files (${variant.count} of them)`}` : `## ${trial.title}`;
    results.push({ variant, ...table(trial, rows, heading) });
  }
  if (trial.variants) {
    const parts = [`## ${trial.title}`, "", measured, ""];
    const crossover = [];
    for (const r of results) {
      parts.push(r.text, "");
      const rf = r.rows.find((x) => x.driver.startsWith("readFileSync") && !x.skipped);
      if (rf) crossover.push(`${r.variant.name}: memmap ${fmt(r.baseMs / r.variant.count * 1000, 1)} µs/file, readFileSync ${fmt(median(rf.ms) / r.variant.count * 1000, 1)} µs/file`);
    }
    const firstWin = results.find((r) => {
      const rf = r.rows.find((x) => x.driver.startsWith("readFileSync") && !x.skipped);
      return rf && r.baseMs < median(rf.ms);
    });
    if (trial.crossover !== false) {
      parts.push(`Per file: ${crossover.join("; ")}.`, "");
      parts.push(firstWin ? `Crossover: mapping is faster than readFileSync from ${firstWin.variant.name} files up.` : "Crossover: readFileSync was faster at every size measured.");
    }
    sections.push(parts.join("\n"));
  } else {
    const r = results[0];
    const c = r.rows.find((x) => x.driver.startsWith("C ") && x.driver.includes("mmap") && !x.skipped);
    let text = r.text.replace(/\n\n/, `\n\n${measured}\n\n`);
    if (c) text += `\n\nmemmap takes ${fmt(r.baseMs / median(c.ms), 2)}x the time of the C loop over mmap (the physical reference).`;
    if (trial.note) text += `\n\n${trial.note}`;
    sections.push(text);
  }
}

const header = [
  "# Benchmarks",
  "",
  "Generated by `npm run bench` (bench/run.mjs). Each driver of each trial runs in a fresh process;",
  `${runs} runs each; the table gives the median, the range, the ratio of the median to the trial's`,
  "baseline (above 1x: slower than the baseline), the median of each process's peak RSS (VmHWM, which",
  "counts the file pages a mapping makes resident) and of its peak private memory (RssAnon, sampled",
  "where the driver holds the most: just before it writes out). The last column times the same unrelated",
  "work (100,000 fs.statSync calls) in the same process after the driver: the process's health afterwards.",
  "",
  `- date: ${new Date().toISOString()}`,
  `- node: ${process.version} (${process.platform}-${process.arch})`,
  `- cpu: ${cpus()[0]?.model ?? "?"} x ${cpus().length}, memory: ${fmt(totalmem() / 2 ** 30)} GiB`,
  `- files in ${tmpdir()}`,
  "",
].join("\n");
const docPath = join(root, "docs", "benchmark.md");
let doc = `${header}\n${sections.join("\n\n")}\n`;
if (wanted.length > 0 && existsSync(docPath)) {
  // Some trials: their sections are replaced where they are, the others kept.
  const old = readFileSync(docPath, "utf8");
  const parts = old.split(/\n(?=## )/);
  for (const section of sections) {
    const heading = section.split("\n", 1)[0];
    const at = parts.findIndex((p) => p.split("\n", 1)[0] === heading);
    if (at >= 0) parts[at] = `${section}\n`;
    else parts.push(`${section}\n`);
  }
  doc = parts.join("\n");
}
console.log(sections.join("\n\n"));
writeFileSync(docPath, doc);
