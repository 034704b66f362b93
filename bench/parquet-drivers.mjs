// Parquet over memmap through hyparquet (the drivers of the parquet-first-rows
// and parquet-scan trials): a column of 10 million distinct DOUBLEs, read to
// its first rows or to its end, against readFileSync and hyparquet's own file
// reader (fs reads).
import { readFileSync } from "node:fs";
import { asyncBufferFromFile, parquetRead, parquetReadObjects } from "hyparquet";
import { map } from "memmap";
import { PARQUET_ROWS, PARQUET_SUM } from "./formats.mjs";


export function setup() {
  return { file: parquetFile() };
}

async function work(file, mode) {
  const first = await parquetReadObjects({ file, rowStart: 0, rowEnd: 2 });
  if (first[1].price !== 1.5) throw new Error(`first rows ${JSON.stringify(first)}`);
  if (mode === "first") return PARQUET_SUM(PARQUET_ROWS);
  let sum = 0;
  await parquetRead({ file, columns: ["price"], onChunk: ({ columnData }) => { for (const v of columnData) sum += v; } });
  if (Math.abs(sum - PARQUET_SUM(PARQUET_ROWS)) > 1e-3) throw new Error(`sum ${sum}`);
  return sum;
}

export function parquetDrivers(mode) {
  return {
  async "memmap asyncBuffer()"({ file, mark }) {
    const m = map(file);
    const sum = await work(m.asyncBuffer(), mode);
    mark();
    m.unmap();
    return sum;
  },
  async "readFileSync ArrayBuffer"({ file, mark }) {
    const b = readFileSync(file);
    const sum = await work(b.buffer.slice(b.byteOffset, b.byteOffset + b.length), mode);
    mark();
    return sum;
  },
  async "hyparquet asyncBufferFromFile"({ file, mark }) {
    const sum = await work(await asyncBufferFromFile(file), mode);
    mark();
    return sum;
  },
  };
}
