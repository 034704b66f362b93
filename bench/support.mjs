// What the trials share: data files kept in the page cache, the C reference
// program, and the peer package installed on demand into bench/.peers.
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const dataDir = join(tmpdir(), "memmap-bench-data");
const peersDir = join(here, ".peers");

/** Deterministic pseudo-random bytes, the same in every run. */
export function chunk(size, seed) {
  const b = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

/** A file of `size` bytes in the bench data folder, made once and read into the page cache. */
export function dataFile(name, size, place) {
  mkdirSync(dataDir, { recursive: true });
  const p = join(dataDir, name);
  if (!existsSync(p) || statSync(p).size !== size) {
    const fd = openSync(p, "w");
    const c = chunk(1 << 20, 12345);
    for (let at = 0; at < size; at += c.length) {
      c.writeUInt32LE(at / c.length, 0); // every MiB differs a little
      writeSync(fd, c, 0, Math.min(c.length, size - at), at);
    }
    if (place) writeSync(fd, Buffer.from(place.bytes), 0, place.bytes.length, place.at);
    closeSync(fd);
  }
  warm(p);
  return p;
}

/** Reads a file once so that it is in the page cache. */
export function warm(p) {
  const fd = openSync(p, "r");
  const b = Buffer.allocUnsafe(1 << 20);
  while (readSync(fd, b, 0, b.length, null) > 0);
  closeSync(fd);
}

/** The xorshift32 sequence the C reference uses too. */
export function* offsets(n, seed, limit) {
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    yield x % limit;
  }
}

/** Builds bench/c/ref.c with the machine's compiler, once. */
export function cReference() {
  const out = join(peersDir, "ref");
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(here, "c", "ref.c")).mtimeMs) {
    mkdirSync(peersDir, { recursive: true });
    execFileSync(process.env.CC ?? "cc", ["-O2", "-o", out, join(here, "c", "ref.c")], { stdio: "pipe" });
  }
  return out;
}

/** Runs the C reference; its own timing of the loop is the figure. */
export function runC(...args) {
  const r = spawnSync(cReference(), args.map(String), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ref ${args.join(" ")}: ${r.stderr}`);
  const [ms, checksum] = r.stdout.trim().split(" ");
  return { ms: Number(ms), checksum };
}

/**
 * The peer package, @riaskov/mmap-io, installed into bench/.peers on first
 * use. npm 11 does not run its install script, and its binding.gyp expects
 * node-pre-gyp's variables, so it is built here with node-gyp against the
 * machine's Node headers. Throws (and the driver is reported skipped) where
 * that cannot be done.
 */
export function peerMmapIo() {
  const require = createRequire(join(peersDir, "index.js"));
  const pkg = join(peersDir, "node_modules", "@riaskov", "mmap-io");
  const abi = `node-v${process.versions.modules}-${process.platform}-${process.arch}`;
  const modulePath = join(pkg, "build", "binding", "Release", abi);
  if (!existsSync(join(modulePath, "mmap_io.node"))) {
    mkdirSync(peersDir, { recursive: true });
    execFileSync("npm", ["install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", peersDir, "@riaskov/mmap-io@1.4.3", "@mapbox/node-pre-gyp"], { stdio: "pipe" });
    const gyp = join(dirname(execFileSync(process.execPath, ["-p", "require.resolve('npm/package.json', {paths: [require('path').dirname(process.execPath) + '/../lib/node_modules']})"], { encoding: "utf8" }).trim()), "node_modules", "node-gyp", "bin", "node-gyp.js");
    const nodedir = process.env.npm_config_nodedir ?? dirname(dirname(process.execPath));
    execFileSync(process.execPath, [gyp, "rebuild", `--nodedir=${nodedir}`, "--module_name=mmap_io", `--module_path=${modulePath}`], { cwd: pkg, stdio: "pipe" });
  }
  return require("@riaskov/mmap-io");
}
