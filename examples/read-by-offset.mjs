#!/usr/bin/env node
// Reads records out of a large binary file by offset, without reading the
// file: an index of fixed-size records is written (once), then looked up at
// random through views of a read-only mapping. Works the same past 4 GiB.
// Usage: node examples/read-by-offset.mjs [records]
import { map } from "memmap";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const RECORD = 32; // u64 id, f64 value, 16 bytes of name
const count = Number(process.argv[2] ?? 1_000_000);
const path = join(tmpdir(), `memmap-records-${process.pid}.bin`);

// Write the file the ordinary way, in 1 MiB batches.
const fd = openSync(path, "w");
const batch = Buffer.alloc(32768 * RECORD);
for (let first = 0; first < count; first += 32768) {
  const n = Math.min(32768, count - first);
  for (let i = 0; i < n; i++) {
    const id = first + i;
    batch.writeBigUInt64LE(BigInt(id), i * RECORD);
    batch.writeDoubleLE(id * 0.5, i * RECORD + 8);
    batch.write(`item-${id}`.padEnd(16, " "), i * RECORD + 16, 16, "latin1");
  }
  writeSync(fd, batch, 0, n * RECORD);
}
closeSync(fd);

const m = map(path);
try {
  m.advise("random"); // no read-ahead: we jump around
  for (const id of [0, 7, count >> 1, count - 1]) {
    const rec = m.view(id * RECORD, RECORD); // zero-copy slab
    const value = rec.readDoubleLE(8);
    const name = rec.toString("latin1", 16, 32).trim();
    if (rec.readBigUInt64LE(0) !== BigInt(id) || value !== id * 0.5) throw new Error(`record ${id} is wrong`);
    console.log(`record ${id}: ${name} = ${value}`);
  }
  const { resident, pages } = m.residency();
  console.log(`${count} records, ${m.byteLength} bytes mapped, ${resident}/${pages} pages resident`);
} finally {
  m.unmap();
  rmSync(path);
}
