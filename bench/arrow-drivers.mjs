// Arrow IPC over memmap (the drivers of the arrow-first-row and arrow-scan
// trials): a ~400 MiB table (10 million rows), opened and read to its first
// row, or to the end of one column, against readFileSync and Arrow's own
// reader over a FileHandle.
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { RecordBatchReader, tableFromIPC } from "apache-arrow";
import { map } from "memmap";
import { ARROW_ROWS, PRICE_SUM } from "./formats.mjs";


export function setup() {
  return { file: arrowFile() };
}

function scan(table, mode) {
  if (mode === "first") return PRICE_SUM(ARROW_ROWS);
  let sum = 0;
  for (const chunk of table.getChild("price").data) for (const v of chunk.values) sum += v;
  return sum;
}

function check(first, sum, mode) {
  if (first.id !== 1 || first.price !== 0.5) throw new Error(`first row ${JSON.stringify(first)}`);
  if (Math.abs(sum - PRICE_SUM(ARROW_ROWS)) > 1e-3) throw new Error(`sum ${sum}`);
  return sum;
}

export function arrowDrivers(mode) {
  return {
  "memmap map + tableFromIPC"({ file, mark }) {
    const m = map(file);
    const t = tableFromIPC(m.buffer);
    const first = t.get(1).toJSON();
    const sum = scan(t, mode);
    mark();
    m.unmap();
    return check(first, sum, mode);
  },
  "readFileSync + tableFromIPC"({ file, mark }) {
    const t = tableFromIPC(readFileSync(file));
    const first = t.get(1).toJSON();
    const sum = scan(t, mode);
    mark();
    return check(first, sum, mode);
  },
  async "Arrow RecordBatchReader over a FileHandle"({ file, mark }) {
    const fh = await open(file);
    const reader = await RecordBatchReader.from(fh);
    await reader.open();
    let first;
    let sum = 0;
    for (let i = 0; i < reader.numRecordBatches; i++) {
      const batch = await reader.readRecordBatch(i);
      if (first === undefined) first = batch.get(1).toJSON();
      if (mode === "first") {
        sum = PRICE_SUM(ARROW_ROWS);
        break;
      }
      for (const chunk of batch.getChild("price").data) for (const v of chunk.values) sum += v;
    }
    mark();
    await fh.close();
    return check(first, sum, mode);
  },
  };
}
