// Trial 3: map + read + unmap many small files, against readFileSync and the
// peer, at sizes from 4 KiB to 1 MiB, to find where mapping starts to pay.
// "Read" is a scan of every byte (indexOf of an absent needle).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync, fstatSync } from "node:fs";
import { join } from "node:path";
import { map } from "memmap";
import { chunk, dataDir, peerMmapIo, runC, warm } from "../support.mjs";

export const title = "map + read + unmap of many small files";
export const baseline = "memmap map + scan + unmap";
const NEEDLE = "MEMMAP-NEEDLE-ABSENT";
export const variants = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20].map((size) => ({
  name: size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`,
  size,
  count: Math.min(2000, (64 << 20) / size),
}));

export function setup(_workdir, variant) {
  const dir = join(dataDir, `small-${variant.size}`);
  mkdirSync(dir, { recursive: true });
  const data = chunk(variant.size, variant.size);
  for (let i = 0; i < variant.count; i++) {
    const p = join(dir, `${i}.bin`);
    if (!existsSync(p) || statSync(p).size !== variant.size) {
      const fd = openSync(p, "w");
      writeSync(fd, data);
      closeSync(fd);
    }
    warm(p);
  }
  return { dir, count: variant.count };
}

export const drivers = {
  "memmap map + scan + unmap"({ dir, count }) {
    let found = 0;
    for (let i = 0; i < count; i++) {
      const m = map(join(dir, `${i}.bin`));
      found += m.buffer.indexOf(NEEDLE) < 0 ? 1 : 0;
      m.unmap();
    }
    return found;
  },
  "readFileSync + scan"({ dir, count }) {
    let found = 0;
    for (let i = 0; i < count; i++) found += readFileSync(join(dir, `${i}.bin`)).indexOf(NEEDLE) < 0 ? 1 : 0;
    return found;
  },
  "peer @riaskov/mmap-io (no unmap: GC)"({ dir, count }) {
    const mmapIo = peerMmapIo();
    let found = 0;
    for (let i = 0; i < count; i++) {
      const fd = openSync(join(dir, `${i}.bin`), "r");
      const buf = mmapIo.map(fstatSync(fd).size, mmapIo.PROT_READ, mmapIo.MAP_SHARED, fd, 0);
      closeSync(fd);
      found += buf.indexOf(NEEDLE) < 0 ? 1 : 0;
    }
    return found;
  },
  "C mmap + memmem + munmap"({ dir, count }) {
    return runC("small-mmap", dir, count);
  },
  "C read + memmem"({ dir, count }) {
    return runC("small-read", dir, count);
  },
};

// The same code as "memmap map + scan + unmap", run with the portable backend.
drivers["memmap (portable backend)"] = drivers["memmap map + scan + unmap"];

// Drivers that run with the portable backend (the bench sets this environment for them).
export const env = { "memmap (portable backend)": { MEMMAP_BACKEND: "portable" } };
