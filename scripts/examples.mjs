#!/usr/bin/env node
// npm run examples: every example in examples/, run by the runtime that runs
// this script (node, bun, or `deno run -A`), as the docs promise they run.
// Ends with one "N passed, N failed" line.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const deno = typeof globalThis.Deno !== "undefined";
const EXAMPLES = [
  ["examples/inspect-file.mjs", "package.json"],
  ["examples/read-by-offset.mjs"],
  ["examples/write-like-a-linker.mjs"],
  ["examples/producer-consumer.mjs"],
  ["examples/file-formats.mjs"],
];
// The shell example drives the `memmap` command (bin/memmap.js) with node.
const runs = EXAMPLES.map(([file, ...args]) => [process.execPath, [...(deno ? ["run", "-A"] : []), file, ...args]]);
if (!deno && typeof globalThis.Bun === "undefined") runs.push(["bash", ["examples/keep-hot.sh"]]);

let passed = 0;
let failed = 0;
for (const [cmd, args] of runs) {
  const name = args.find((a) => a.startsWith("examples/"));
  console.log(`== ${name}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: { ...process.env, NO_COLOR: "1" } });
  if (r.status === 0 && r.signal === null) passed++;
  else {
    failed++;
    console.log(`FAILED: ${name} (exit ${r.status}, signal ${r.signal})`);
  }
}
console.log(`examples: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
