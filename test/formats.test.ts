// The file-format readers users hand a mapping to: apache-arrow (IPC file),
// hyparquet (Parquet, through asyncBuffer()) and sql.js (SQLite). Each gives
// the same answers as over readFileSync's bytes; Arrow and hyparquet read
// the mapping in place, which the private (anonymous) memory of a child
// process shows: it grows by the file's size through readFileSync, not
// through the mapping.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { tableFromArrays, tableToIPC } from "apache-arrow";
import { parquetWriteBuffer } from "hyparquet-writer";
import initSqlJs from "sql.js";
import { ended, portable, runChild, runFixture, tempDir } from "./helpers.js";

const MiB = 1 << 20;
const linux = process.platform === "linux" && existsSync("/proc/self/smaps_rollup"); // wine shows Linux's /proc too

// Child code: `work` runs over `bytes()` (a mapping's, or readFileSync's);
// prints its answer and how much anonymous memory it took.
function measure(imports: string, setup: string, work: string): { answer: unknown; anonMiB: number } {
  const r = runChild(`
    ${imports}
    import { readFileSync } from "node:fs";
    const anon = () => Number(/Anonymous:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/smaps_rollup", "utf8"))[1]) / 1024;
    globalThis.gc();
    const before = anon();
    ${setup}
    const answer = await (async () => { ${work} })();
    const after = anon();
    console.log(JSON.stringify({ answer, anonMiB: after - before }));
  `, ["--expose-gc"]);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { answer: unknown; anonMiB: number };
  if (process.env["MEMMAP_FORMATS_DEBUG"]) console.log(JSON.stringify(out));
  return out;
}

const skipMemory = !linux ? "private memory is read from /proc/self/smaps_rollup (Linux)"
  : process.versions["bun"] !== undefined || process.versions["deno"] !== undefined ? "measured under Node (--expose-gc)" : false;

test("apache-arrow: tableFromIPC over a mapping reads the columns in place (the column's ArrayBuffer is the mapping's) and agrees with readFileSync", { skip: skipMemory }, () => {
  const t = tempDir();
  const n = 4_000_000; // 48 MiB of columns
  const table = tableFromArrays({
    x: Float64Array.from({ length: n }, (_, i) => i * 0.25),
    k: Int32Array.from({ length: n }, (_, i) => i % 1000),
  });
  const p = t.file("t.arrow", tableToIPC(table, "file"));
  const imports = `import { tableFromIPC } from "apache-arrow"; import { map } from "memmap";`;
  const scan = `
    const x = t.getChild("x"), k = t.getChild("k");
    let sx = 0, sk = 0;
    for (const chunk of x.data) for (const v of chunk.values) sx += v;
    for (const chunk of k.data) for (const v of chunk.values) sk += v;
    return { rows: t.numRows, sx, sk, first: t.get(1).toJSON(), inPlace: typeof m === "undefined" ? null : x.data[0].values.buffer === m.buffer.buffer };`;
  const mapped = measure(imports, `const m = map(${JSON.stringify(p)}); const t = tableFromIPC(m.buffer);`, scan);
  const copied = measure(imports, `const t = tableFromIPC(readFileSync(${JSON.stringify(p)}));`, scan);
  const { inPlace, ...answer } = mapped.answer as Record<string, unknown>;
  const { inPlace: copiedInPlace, ...expected } = copied.answer as Record<string, unknown>;
  assert.equal(copiedInPlace, null);
  assert.deepEqual(answer, expected);
  assert.equal(answer["rows"], n);
  if (!portable) {
    assert.equal(inPlace, true, "zero-copy: the column's values are a view of the mapping");
    assert.ok(mapped.anonMiB < 12, `private memory through the mapping: +${mapped.anonMiB.toFixed(1)} MiB`);
  }
  assert.ok(copied.anonMiB > 40, `through readFileSync: +${copied.anonMiB.toFixed(1)} MiB (the measure sees copies)`);
});

test("hyparquet: a Parquet file read through asyncBuffer() agrees with readFileSync; opening it copies nothing", { skip: skipMemory }, () => {
  const t = tempDir();
  const n = 200_000;
  const bytes = parquetWriteBuffer({
    columnData: [
      { name: "id", data: Int32Array.from({ length: n }, (_, i) => i), type: "INT32" },
      { name: "v", data: Float64Array.from({ length: n }, (_, i) => Math.sin(i)), type: "DOUBLE" },
    ],
  });
  const p = t.file("t.parquet", new Uint8Array(bytes));
  const imports = `import { parquetReadObjects, parquetMetadataAsync } from "hyparquet"; import { map } from "memmap";`;
  const read = `const rows = await parquetReadObjects({ file }); let s = 0; for (const r of rows) s += r.v; return { n: rows.length, s, last: rows.at(-1) };`;
  const mapped = measure(imports, `const m = map(${JSON.stringify(p)}); const file = m.asyncBuffer();`, read);
  const copied = measure(imports, `const b = readFileSync(${JSON.stringify(p)}); const file = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);`, read);
  assert.deepEqual(mapped.answer, copied.answer);
  assert.equal((mapped.answer as { n: number }).n, n);
  // Opening a large file (footer and schema): the mapping reads a few pages.
  const large = 3_000_000;
  const bigBytes = parquetWriteBuffer({
    columnData: [{ name: "v", data: Float64Array.from({ length: large }, (_, i) => Math.sin(i) * i), type: "DOUBLE" }],
  });
  const big = t.file("big.parquet", new Uint8Array(bigBytes));
  assert.ok(bigBytes.byteLength > 16 * MiB, `a large file: ${bigBytes.byteLength} bytes`);
  const open = `const meta = await parquetMetadataAsync(file); return { rows: Number(meta.num_rows), columns: meta.schema.length };`;
  const mOpen = measure(imports, `const m = map(${JSON.stringify(big)}); const file = m.asyncBuffer();`, open);
  const cOpen = measure(imports, `const b = readFileSync(${JSON.stringify(big)}); const file = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);`, open);
  assert.deepEqual(mOpen.answer, cOpen.answer);
  assert.equal((mOpen.answer as { rows: number }).rows, large);
  assert.ok(cOpen.anonMiB > 16, `opening after readFileSync: +${cOpen.anonMiB.toFixed(1)} MiB (the measure sees copies)`);
  if (!portable) assert.ok(mOpen.anonMiB < 4, `opening through the mapping: +${mOpen.anonMiB.toFixed(1)} MiB`);
});

test("sql.js: a read-only database opened from a mapping gives the answers the file's bytes give, and reads its pages from the mapping", async () => {
  const t = tempDir();
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v REAL)");
  db.run("BEGIN");
  const insert = db.prepare("INSERT INTO t VALUES (?, ?, ?)");
  for (let i = 0; i < 20_000; i++) insert.run([i, `row ${i} ${"x".repeat(80)}`, i / 3]);
  insert.free();
  db.run("COMMIT");
  const p = t.file("t.sqlite", db.export());
  db.close();
  const { map } = await import("memmap");
  const { readFileSync } = await import("node:fs");
  const query = "SELECT count(*), sum(v), max(name) FROM t WHERE id % 7 = 3";
  const m = map(p);
  const viaMapping = new SQL.Database(m.buffer);
  const viaFile = new SQL.Database(readFileSync(p));
  assert.deepEqual(viaMapping.exec(query), viaFile.exec(query));
  viaFile.close();
  // sql.js keeps what Buffer.prototype.slice gives it (a view, for a Node
  // Buffer) as its file: the mapping, not a copy. Once it is unmapped, a
  // query that reads a page finds it detached, and throws; nothing crashes.
  m.unmap();
  if (!portable) assert.throws(() => viaMapping.exec("SELECT max(v) FROM t WHERE id > 10000"), /detached/);
  viaMapping.close();
});

test("apache-arrow after release(): a table returned out of the function that mapped it stays correct through forced collections, and the file is unmapped once the table is dropped", { skip: skipMemory }, () => {
  const t = tempDir();
  const n = 1_000_000;
  const p = t.file("r.arrow", tableToIPC(tableFromArrays({ x: Float64Array.from({ length: n }, (_, i) => i) }), "file"));
  const r = runFixture("formats-arrow-release.mjs", { path: p }, ["--expose-gc"]);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { sums: number[]; rows: number; last: number; whileUsed: number; afterDrop: number };
  assert.deepEqual(out.sums, [0, 1, 2].map(() => (n * (n - 1)) / 2));
  assert.equal(out.rows, n);
  assert.equal(out.last, n - 1);
  if (!portable) {
    assert.ok(out.whileUsed >= 1);
    assert.equal(out.afterDrop, 0);
  }
});
