// Trial 2: open a 1 GiB page-cached file and find a needle near its end.
import { closeSync, createReadStream, openSync, readFileSync } from "node:fs";
import { map } from "memmap";
import { dataFile, runC } from "../support.mjs";

export const title = "open + search the whole of a 1 GiB page-cached file for a needle";
export const baseline = "memmap map + indexOf";
const SIZE = 1 << 30;
const NEEDLE = "MEMMAP-NEEDLE-7f3a91";
const AT = SIZE - 1000;

export function setup() {
  return { file: dataFile("1g-needle.bin", SIZE, { at: AT, bytes: NEEDLE }) };
}

function check(at) {
  if (at !== AT) throw new Error(`found at ${at}, not ${AT}`);
  return at;
}

export const drivers = {
  "memmap map + indexOf"({ file, mark }) {
    const m = map(file);
    const at = m.buffer.indexOf(NEEDLE);
    mark();
    m.unmap();
    return check(at);
  },
  "readFileSync + indexOf"({ file, mark }) {
    const b = readFileSync(file);
    const at = b.indexOf(NEEDLE);
    mark();
    return check(at);
  },
  async "createReadStream + indexOf"({ file, mark }) {
    let base = 0;
    let carry = Buffer.alloc(0);
    for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) {
      const b = carry.length ? Buffer.concat([carry, c]) : c;
      const i = b.indexOf(NEEDLE);
      if (i >= 0) {
        mark();
        return check(base - carry.length + i);
      }
      carry = b.subarray(b.length - (NEEDLE.length - 1));
      base += c.length;
    }
    return check(-1);
  },
  "C memmem over mmap"({ file }) {
    return runC("search-mmap", file, NEEDLE);
  },
  "C memmem over read"({ file }) {
    return runC("search-read", file, NEEDLE);
  },
};

// The same code as "memmap map + indexOf", run with the portable backend.
drivers["memmap map + indexOf (portable backend)"] = drivers["memmap map + indexOf"];

// Drivers that run with the portable backend (the bench sets this environment for them).
export const env = { "memmap map + indexOf (portable backend)": { MEMMAP_BACKEND: "portable" } };
