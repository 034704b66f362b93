#!/usr/bin/env node
// The `memmap` command (lib/cli.ts).
import { main } from "../dist/cli.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`memmap: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 1;
  },
);
