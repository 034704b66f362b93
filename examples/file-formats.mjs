// Hand a mapped file to the readers users pair memmap with: an Arrow table
// that outlives the function that mapped it (release(), not using/unmap()),
// a Parquet file read by hyparquet through asyncBuffer(), and a SQLite
// database queried by sql.js over the mapping.
//   node examples/file-formats.mjs
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tableFromArrays, tableFromIPC, tableToIPC } from "apache-arrow";
import { parquetReadObjects } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import initSqlJs from "sql.js";
import { map } from "memmap";

const dir = mkdtempSync(join(tmpdir(), "memmap-example-"));
try {
  // Some data to read back.
  const n = 1_000_000;
  const price = Float64Array.from({ length: n }, (_, i) => 100 + Math.sin(i));
  writeFileSync(join(dir, "prices.arrow"), tableToIPC(tableFromArrays({ price }), "file"));
  writeFileSync(join(dir, "prices.parquet"), new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "price", data: price, type: "DOUBLE" }] })));

  // Arrow: the table reads the mapping in place. release() lets the mapping
  // live exactly as long as the table; `using m = map(...)` would detach the
  // table's buffers on the way out of this function.
  function loadTable(path) {
    const m = map(path);
    const table = tableFromIPC(m.buffer);
    m.release();
    return table;
  }
  const table = loadTable(join(dir, "prices.arrow"));
  let sum = 0;
  for (const chunk of table.getChild("price").data) for (const v of chunk.values) sum += v;
  console.log(`arrow: ${table.numRows} rows, mean price ${(sum / table.numRows).toFixed(4)}`);

  // Parquet: hyparquet takes the { byteLength, slice } shape; each slice is
  // an ArrayBuffer over exactly those bytes of the mapping. (Plain
  // JavaScript on Node 20 has no `using`: unmap() in finally.)
  const m = map(join(dir, "prices.parquet"));
  try {
    const rows = await parquetReadObjects({ file: m.asyncBuffer(), rowStart: 0, rowEnd: 3 });
    console.log("parquet: first rows", rows.map((r) => r.price.toFixed(4)).join(", "));
  } finally {
    m.unmap();
  }

  // SQLite: sql.js keeps its input's slice() as its file, which for a
  // Buffer is a view: it reads pages out of the mapping. A "read" mapping
  // is private: SQLite's writes would stay in this process.
  const SQL = await initSqlJs();
  const made = new SQL.Database();
  made.run("CREATE TABLE prices (day INTEGER, price REAL)");
  for (let i = 0; i < 1000; i++) made.run("INSERT INTO prices VALUES (?, ?)", [i, price[i]]);
  writeFileSync(join(dir, "prices.sqlite"), made.export());
  made.close();
  const db3 = map(join(dir, "prices.sqlite"));
  const db = new SQL.Database(db3.buffer);
  const [[days, high]] = db.exec("SELECT count(*), max(price) FROM prices")[0].values;
  console.log(`sqlite: ${days} days, highest price ${high.toFixed(4)}`);
  db.close();
  db3.unmap();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
