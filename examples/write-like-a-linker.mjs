#!/usr/bin/env node
// Writes an output file the way a linker does: once layout has fixed the
// sections' offsets, they are copied straight into a mapping of the output
// (two of them by worker threads, through regions), a symbol table of unknown
// size is appended after, and commit() makes it appear atomically.
// Usage: node examples/write-like-a-linker.mjs [out-file]
import { createOutput } from "memmap";
import { Worker } from "node:worker_threads";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const outPath = process.argv[2] ?? join(tmpdir(), `memmap-example-${process.pid}.out`);
const sections = [
  { name: ".text", size: 64 * 1024 },
  { name: ".rodata", size: 16 * 1024 },
  { name: ".data", size: 8 * 1024 },
];
// Layout: a 64-byte header, then each section aligned to 4 KiB.
let at = 4096;
for (const s of sections) {
  s.offset = at;
  at += Math.ceil(s.size / 4096) * 4096;
}
const out = createOutput(outPath, { size: at });
try {
  const header = out.view(0, 64);
  header.write("MEMMAPEX", 0, "latin1");
  header.writeUInt32LE(sections.length, 8);
  sections.forEach((s, i) => header.writeUInt32LE(s.offset, 12 + 4 * i));

  // .text and .rodata in parallel, each in its own worker, each through its own mapping.
  const fill = `
    const { workerData, parentPort } = require("node:worker_threads");
    import(workerData.memmap).then(({ openRegion }) => {
      const region = openRegion(workerData.handle);
      region.buffer.fill(workerData.byte);
      region.close(); // before the output is committed
      parentPort.postMessage(region.length);
    });
  `;
  const memmap = import.meta.resolve("memmap");
  await Promise.all(sections.slice(0, 2).map((s, i) => new Promise((resolve, reject) => {
    const w = new Worker(fill, { eval: true, workerData: { memmap, handle: out.region(s.offset, s.size), byte: 0x90 + i } });
    w.once("message", resolve).once("error", reject);
  })));
  // .data on this thread.
  out.write(sections[2].offset, Buffer.alloc(sections[2].size, 0xdd));

  // The symbol table: size unknown until now, appended past the mapped region.
  const symtab = sections.map((s) => `${s.name} ${s.offset} ${s.size}`).join("\n") + "\n";
  const symtabAt = out.append(symtab);
  await out.commit();

  const written = readFileSync(outPath);
  console.log(`wrote ${outPath}: ${written.length} bytes, ${sections.length} sections, symbol table at ${symtabAt}`);
  console.log(written.toString("latin1", symtabAt).trim());
  console.log(`.text starts with 0x${written[sections[0].offset].toString(16)}, .rodata with 0x${written[sections[1].offset].toString(16)}`);
} finally {
  out.abort(); // does nothing after a commit; removes the temporary file otherwise
  if (process.argv[2] === undefined) rmSync(outPath, { force: true }); // our own scratch file
}
