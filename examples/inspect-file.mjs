#!/usr/bin/env node
// Maps a file read-only and reports what it finds, without reading it into
// the heap: size, how much of it the page cache holds, its line count, a
// checksum and its first bytes. Usage: node examples/inspect-file.mjs [file]
import { map, pageSize } from "memmap";

const file = process.argv[2] ?? new URL(import.meta.url).pathname;
const m = map(file); // in TypeScript: `using m = map(file);`
try {
  const before = m.residency();
  await m.prefetch(); // pages the file in on the thread pool
  const buf = m.buffer;
  let lines = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++;
  let sum = 0;
  for (let i = 0; i < buf.length; i++) sum = (sum + buf[i]) >>> 0;
  console.log(`file:      ${file}`);
  console.log(`size:      ${m.byteLength} bytes (${before.pages} pages of ${pageSize})`);
  console.log(`cached:    ${before.resident}/${before.pages} pages before, ${m.residency().resident} after prefetch`);
  console.log(`lines:     ${lines}`);
  console.log(`checksum:  ${sum}`);
  console.log(`starts:    ${JSON.stringify(buf.toString("latin1", 0, Math.min(32, buf.length)))}`);
} finally {
  m.unmap(); // detaches `buf`: using it now would read nothing, never freed memory
}
