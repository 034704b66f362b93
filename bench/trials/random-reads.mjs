// Trial 1: 1,000,000 random 64-byte reads from a 1 GiB page-cached file.
// Each read XORs the record's sixteen little-endian 32-bit words, the same
// work in every JavaScript driver (and in the C reference); the offsets come
// from the same xorshift32 sequence everywhere.
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { map } from "memmap";
import { dataFile, peerMmapIo, runC } from "../support.mjs";

export const title = "1,000,000 random 64-byte reads from a 1 GiB page-cached file";
export const baseline = "memmap buffer";
const N = 1_000_000;
const SEED = 2463534242;
const SIZE = 1 << 30;

export function setup() {
  return { file: dataFile("1g.bin", SIZE) };
}

// The record at `off`, folded to one 32-bit word. A DataView is the fastest
// way JavaScript has to read unaligned words (faster than readUInt32LE or
// byte indexing here).
function record(dv, off) {
  let acc = 0;
  for (let k = off; k < off + 64; k += 4) acc ^= dv.getUint32(k, true);
  return acc;
}

function loop(buf, limit) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let acc = 0;
  let x = SEED;
  for (let i = 0; i < N; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    acc ^= record(dv, x % limit);
  }
  return acc >>> 0;
}

export const drivers = {
  "memmap buffer"({ file }) {
    const m = map(file);
    try {
      return loop(m.buffer, SIZE - 64);
    } finally {
      m.unmap();
    }
  },
  "memmap buffer, populate: true"({ file }) {
    const m = map(file, { populate: true });
    try {
      return loop(m.buffer, SIZE - 64);
    } finally {
      m.unmap();
    }
  },
  "fs.readSync at a position"({ file }) {
    const fd = openSync(file, "r");
    const rec = Buffer.alloc(64);
    const dv = new DataView(rec.buffer, rec.byteOffset, 64);
    let acc = 0;
    let x = SEED;
    for (let i = 0; i < N; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      readSync(fd, rec, 0, 64, x % (SIZE - 64));
      acc ^= record(dv, 0);
    }
    closeSync(fd);
    return acc >>> 0;
  },
  "peer @riaskov/mmap-io"({ file }) {
    const mmapIo = peerMmapIo();
    const fd = openSync(file, "r");
    const buf = mmapIo.map(statSync(file).size, mmapIo.PROT_READ, mmapIo.MAP_SHARED, fd, 0);
    closeSync(fd);
    return loop(buf, SIZE - 64);
  },
  // Not an alternative (it needs the whole file in private memory): the same
  // JavaScript loop over a heap Buffer, timed without the read, to show how
  // much of the time is JavaScript's and how much the memory's.
  "JS floor: same loop over a heap Buffer (read not timed)"({ file }) {
    const buf = readFileSync(file);
    const t0 = performance.now();
    const check = loop(buf, SIZE - 64);
    return { ms: performance.now() - t0, check };
  },
  "C loop over mmap"({ file }) {
    return runC("random-mmap", file, N, SEED);
  },
  "C loop over pread"({ file }) {
    return runC("random-pread", file, N, SEED);
  },
};

// The same code as "memmap buffer", run with the portable backend.
drivers["memmap buffer (portable backend)"] = drivers["memmap buffer"];

// Drivers that run with the portable backend (the bench sets this environment for them).
export const env = { "memmap buffer (portable backend)": { MEMMAP_BACKEND: "portable" } };
