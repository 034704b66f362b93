// The published types say ArrayBuffer (not ArrayBufferLike) wherever memory
// comes from a mapping, so that readers typed for ArrayBuffer (hyparquet's
// AsyncBuffer, Arrow) take it without a cast. Compiled against dist/*.d.ts
// with the TypeScript compiler; a wrong type fails the compile.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { root, tempDir } from "./helpers.js";

function diagnostics(code: string): string[] {
  const { dir } = tempDir();
  const file = join(dir, "use.ts");
  writeFileSync(file, code);
  const program = ts.createProgram([file], {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true,
    baseUrl: root, paths: { memmap: [join(root, "dist", "index.d.ts")] }, types: ["node"], typeRoots: [join(root, "node_modules", "@types")],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

test("buffer, view(), chunks(), typed(), arrayBuffer() and asyncBuffer() are typed over ArrayBuffer", { skip: process.versions["bun"] !== undefined || process.versions["deno"] !== undefined ? "the TypeScript compiler runs once, under Node" : false }, () => {
  const good = diagnostics(`
    import { map, mapTyped } from "memmap";
    const m = map("f");
    const a: ArrayBuffer = m.buffer.buffer;
    const b: ArrayBuffer = m.view(0, 1).buffer;
    const c: Float32Array<ArrayBuffer> = m.typed(Float32Array, 0);
    const d: BigInt64Array<ArrayBuffer> = m.typed(BigInt64Array, 0, 1);
    const e: ArrayBuffer = m.arrayBuffer(0, 1);
    const f: { byteLength: number; slice(start: number, end?: number): ArrayBuffer | Promise<ArrayBuffer> } = m.asyncBuffer();
    for (const g of m.chunks(10)) { const h: ArrayBuffer = g.buffer; void h; }
    const { array } = mapTyped("f", Uint16Array);
    const i: Uint16Array<ArrayBuffer> = array;
    void [a, b, c, d, e, f, i];
  `);
  assert.deepEqual(good, []);
  const bad = diagnostics(`
    import { map } from "memmap";
    const m = map("f");
    const x: Float64Array = m.typed(Float32Array, 0);
    void x;
  `);
  assert.equal(bad.length, 1, "a wrong element type is caught (the check can fail)");
});
