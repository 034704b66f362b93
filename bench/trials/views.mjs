// Issue 10's trial: 1,000,000 views of 100 bytes at scattered offsets of one
// 64 MiB mapping, each read and written once, against 1,000,000 subarray()
// calls on a Buffer of the same size.
import { mapAnonymous } from "memmap";

export const title = "Views: 1,000,000 view(offset, 100) calls on a 64 MiB mapping vs subarray() on a Buffer";
const CALLS = 1_000_000;
const SIZE = 64 * 1024 * 1024;
const LEN = 100;
const at = (i) => (i * 40_009) % (SIZE - LEN);

// The same loop over any Buffer: CALLS subarrays, each written and read once.
function subarrays(b) {
  let s = 0;
  for (let i = 0; i < CALLS; i++) {
    const o = at(i);
    const v = b.subarray(o, o + LEN);
    v[0] = i;
    s += v[LEN - 1];
  }
  return s;
}

export const drivers = {
  "memmap view()"() {
    const m = mapAnonymous(SIZE);
    let s = 0;
    for (let i = 0; i < CALLS; i++) {
      const v = m.view(at(i), LEN);
      v[0] = i;
      s += v[LEN - 1];
    }
    m.unmap();
    return { sum: s };
  },
  "Buffer subarray()"() {
    return { sum: subarrays(Buffer.alloc(SIZE)) };
  },
  "memmap buffer.subarray()"() {
    const m = mapAnonymous(SIZE);
    const sum = subarrays(m.buffer);
    m.unmap();
    return { sum };
  },
};

export const baseline = "Buffer subarray()";

// The same code as "memmap view()", run with the portable backend.
drivers["memmap view() (portable backend)"] = drivers["memmap view()"];
export const env = { "memmap view() (portable backend)": { MEMMAP_BACKEND: "portable" } };
