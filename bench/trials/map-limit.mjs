// Issue 22's trial: what the mapping budget costs near vm.max_map_count.
// The process holds 0, 40,000 or 56,000 other live mappings (each a kernel
// mapping of its own: alternating protections keep them from merging), then
// maps, reads and unmaps one small file 15,000 times, and unmaps its oldest
// mapping and maps a new one 2,000 times. Near the line the budget reads
// /proc/self/maps now and then (19 ms at 57,000 lines); readFileSync is what
// a user would do instead, and does not care how many mappings there are.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { map, mapAnonymous } from "memmap";

export const title = "Near the mapping limit: 15,000 map + read + unmap of a 4 KiB file, and 2,000 unmap-oldest + map-new, with other mappings held";
export const baseline = "readFileSync + read";
export const crossover = false;
const ROUNDS = 15_000;
const SWAPS = 2_000;
export const variants = [0, 40_000, 56_000].map((held) => ({ name: `${held.toLocaleString("en")} held`, held, count: ROUNDS }));
export const variantHeading = (v) => `${v.held.toLocaleString("en")} other mappings held`;

export function setup(workdir, variant) {
  const file = join(workdir, "small.bin");
  writeFileSync(file, Buffer.alloc(4096, 7));
  const held = [];
  for (let i = 0; i < variant.held; i++) held.push(mapAnonymous(4096, { exec: (i & 1) === 1 }));
  return { file, held };
}

export const drivers = {
  "memmap map + read + unmap"({ file }) {
    let sum = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const m = map(file);
      sum += m.buffer[i & 4095];
      m.unmap();
    }
    return { sum };
  },
  "readFileSync + read"({ file }) {
    let sum = 0;
    for (let i = 0; i < ROUNDS; i++) sum += readFileSync(file)[i & 4095];
    return { sum };
  },
  "memmap unmap oldest + map new"({ held }) {
    if (held.length === 0) {
      console.error("nothing held to swap");
      process.exit(1);
    }
    let sum = 0;
    for (let i = 0; i < SWAPS; i++) {
      held[i].unmap();
      held[i] = mapAnonymous(4096, { exec: (i & 1) === 1 });
      sum += held[i].buffer[0];
    }
    return { sum };
  },
};
