// Issue 3's trial: 1,000,000 records of 100 bytes at known offsets, made
// durable (fsync) and in place, by OutputFile against one fs.writeSync per
// record and against one Buffer + fs.writeFileSync.
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createOutput } from "memmap";

export const title = "OutputFile: 1,000,000 records of 100 bytes at known offsets, committed (fsync)";
const RECORDS = 1_000_000;
const SIZE = 100;

function fill(buf, at, i) {
  buf.writeUInt32LE(i, at);
  buf.fill(i & 0xff, at + 4, at + SIZE);
}

export const drivers = {
  async "memmap OutputFile"({ workdir, mark }) {
    const out = createOutput(join(workdir, "out.bin"), { size: RECORDS * SIZE });
    const buf = out.buffer;
    for (let i = 0; i < RECORDS; i++) fill(buf, i * SIZE, i);
    mark();
    await out.commit();
  },
  // What a user writes first: one write() of a record Buffer per record.
  async "memmap OutputFile write() per record"({ workdir, mark }) {
    const out = createOutput(join(workdir, "out.bin"), { size: RECORDS * SIZE });
    const rec = Buffer.alloc(SIZE);
    for (let i = 0; i < RECORDS; i++) {
      fill(rec, 0, i);
      out.write(i * SIZE, rec);
    }
    mark();
    await out.commit();
  },
  // Or one view() per record, filled in place.
  async "memmap OutputFile view() per record"({ workdir, mark }) {
    const out = createOutput(join(workdir, "out.bin"), { size: RECORDS * SIZE });
    for (let i = 0; i < RECORDS; i++) fill(out.view(i * SIZE, SIZE), 0, i);
    mark();
    await out.commit();
  },
  "memmap OutputFile (mapped: false)": async ({ workdir, mark }) => {
    const out = createOutput(join(workdir, "out.bin"), { size: RECORDS * SIZE, mapped: false });
    const buf = out.buffer;
    for (let i = 0; i < RECORDS; i++) fill(buf, i * SIZE, i);
    mark();
    await out.commit();
  },
  "fs.writeSync per record"({ workdir, mark }) {
    const fd = openSync(join(workdir, "out.bin"), "w");
    const rec = Buffer.alloc(SIZE);
    for (let i = 0; i < RECORDS; i++) {
      fill(rec, 0, i);
      writeSync(fd, rec, 0, SIZE, i * SIZE);
    }
    mark();
    fsyncSync(fd);
    closeSync(fd);
  },
  "Buffer + fs.writeFileSync"({ workdir, mark }) {
    const buf = Buffer.alloc(RECORDS * SIZE);
    for (let i = 0; i < RECORDS; i++) fill(buf, i * SIZE, i);
    mark();
    const p = join(workdir, "out.bin");
    writeFileSync(p, buf);
    const fd = openSync(p, "r+");
    fsyncSync(fd);
    closeSync(fd);
  },
};

export const baseline = "memmap OutputFile";

// Every driver must produce the same file (checked after the timed part).
export function verify({ workdir }) {
  const p = join(workdir, "out.bin");
  if (statSync(p).size !== RECORDS * SIZE) throw new Error("wrong size");
  const expected = Buffer.alloc(SIZE * 1000);
  for (let i = 0; i < 1000; i++) fill(expected, i * SIZE, i);
  const got = readFileSync(p);
  if (!got.subarray(0, expected.length).equals(expected)) throw new Error("wrong bytes");
  const last = Buffer.alloc(SIZE);
  fill(last, 0, RECORDS - 1);
  if (!got.subarray(got.length - SIZE).equals(last)) throw new Error("wrong last record");
}

// The same code as "memmap OutputFile", run with the portable backend.
drivers["memmap OutputFile (portable backend)"] = drivers["memmap OutputFile"];

// Drivers that run with the portable backend (the bench sets this environment for them).
export const env = { "memmap OutputFile (portable backend)": { MEMMAP_BACKEND: "portable" } };
