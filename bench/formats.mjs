// Data files for the format trials (Arrow IPC, Parquet), made once in the
// bench data folder with the libraries themselves and kept in the page cache.
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tableFromArrays, tableToIPC } from "apache-arrow";
import { parquetWriteBuffer } from "hyparquet-writer";
import { dataDir, warm } from "./support.mjs";

export const ARROW_ROWS = 10_000_000;
export const PARQUET_ROWS = 10_000_000;

function made(name, make) {
  mkdirSync(dataDir, { recursive: true });
  const p = join(dataDir, name);
  if (!existsSync(p)) {
    writeFileSync(`${p}.tmp`, make());
    renameSync(`${p}.tmp`, p);
  }
  warm(p);
  return p;
}

/** An Arrow IPC file of 10 million rows in five columns (about 400 MiB). */
export function arrowFile() {
  return made("table-10m.arrow", () => {
    const n = ARROW_ROWS;
    const f64 = (k) => Float64Array.from({ length: n }, (_, i) => (i % 1000) * k);
    const i32 = (k) => Int32Array.from({ length: n }, (_, i) => (i * k) % 65536);
    return tableToIPC(tableFromArrays({ id: i32(1), price: f64(0.5), qty: i32(7), a: f64(1.5), b: f64(2.5), c: f64(3.5) }), "file");
  });
}

/** A Parquet file of 10 million rows, one DOUBLE column of distinct values (i + 0.5: no dictionary, little to compress). */
export function parquetFile() {
  return made("column-10m-distinct.parquet", () =>
    new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "price", data: Float64Array.from({ length: PARQUET_ROWS }, (_, i) => i + 0.5), type: "DOUBLE" }] })));
}

/** The sum of the Parquet column: the sum of i + 0.5 for i < n, exact in doubles. */
export const PARQUET_SUM = (n) => (n * n) / 2;

/** The expected sum of Arrow's "price" (and Parquet's) column. */
export const PRICE_SUM = (n) => 0.5 * 499.5 * 1000 * (n / 1000);
