// Native code holding the memory (issue 11, item 1): Node's thread pool may
// still be using a mapped Buffer when unmap() runs. Detaching stops
// JavaScript, not a job that already has the pointer: the range is
// quarantined (inert memory at the same addresses) until nothing can reach it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { darwinRules, ended, pattern, portable, runChild, tempDir, addonPath, testAddonPath, skipIf, notOnWindows, onWindows } from "./helpers.js";

function survives(code: string, env: Record<string, string> = {}) {
  const r = runChild(code, ["--expose-gc"], env);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  return r;
}

// zlib is left out: Node 20's zlib asserts (SIGABRT) when an input Buffer is
// detached between two of its chunks, with or without memmap (docs/safety.md).
test("crypto.randomFill still running when unmap() comes: no crash, the file untouched", () => {
  const t = tempDir();
  const p = t.file("data.bin", pattern(8 << 20));
  const r = survives(`
    import { map, mapAnonymous } from "memmap";
    import { randomFill } from "node:crypto";
    let done = 0;
    for (let i = 0; i < 20; i++) {
      const a = mapAnonymous(8 << 20);
      randomFill(a.buffer, () => done++);            // the pool writes 8 MiB
      a.unmap();
      const f = map(${JSON.stringify(p)}, { access: "write" });
      randomFill(f.view(0, 1 << 20), () => done++);  // the pool writes into the file's pages
      f.unmap();
    }
    while (done < 40) await new Promise((res) => setTimeout(res, 5));
    globalThis.gc?.();
    console.log("all", done, "jobs ended");
  `);
  assert.match(r.stdout, /all 40 jobs ended/, ended(r));
  // A write mapping's unmap() lets the file go at once: the job's late
  // writes land in the quarantine, never in the file (unless the job won the
  // race and wrote before unmap(), which leaves random bytes at the start).
  const after = readFileSync(p);
  assert.ok(after.subarray(1 << 20).equals(pattern(8 << 20).subarray(1 << 20)), "nothing past the first MiB changed");
});

test("an fs.read() pending into a mapping that was unmapped lands nowhere: not in the next mapping at that address, not in the file", () => {
  const t = tempDir();
  const fifo = t.file("pipe");
  if (spawnSync("mkfifo", [fifo]).status !== 0) {
    return;
  }
  const fileA = t.file("a.bin", Buffer.alloc(1 << 16, 0x41));
  const fileB = t.file("b.bin", Buffer.alloc(1 << 16, 0x42));
  const r = survives(`
    import { map, mapAnonymous } from "memmap";
    import { open, read, writeFileSync } from "node:fs";
    const fifo = ${JSON.stringify(fifo)};
    const fd = await new Promise((res, rej) => open(fifo, "r+", (e, f) => (e ? rej(e) : res(f)))); // r+: no wait for a writer
    const reads = [];
    const pending = (buf) => new Promise((res) => read(fd, buf, 0, buf.length, null, (e, n) => res(e ? e.code : n)));
    // Anonymous: the read waits on the FIFO with m1's pointer; m1 goes; m2 may get its addresses.
    const m1 = mapAnonymous(1 << 16);
    reads.push(pending(m1.buffer));
    await new Promise((res) => setTimeout(res, 50)); // the pool thread is in read(2)
    m1.unmap();
    const m2 = mapAnonymous(1 << 16);
    // A file mapping the same way: fileA's mapping goes, fileB's may take its place.
    const f1 = map(${JSON.stringify(fileA)}, { access: "write" });
    reads.push(pending(f1.buffer));
    await new Promise((res) => setTimeout(res, 50));
    f1.unmap();
    const f2 = map(${JSON.stringify(fileB)}, { access: "write" });
    writeFileSync(fifo, Buffer.alloc(2 << 16, 0x58));  // now the pending reads complete: 0x58 everywhere they write
    const got = await Promise.all(reads);
    let m2Clean = m2.buffer.every((b) => b === 0);
    let f2Clean = f2.buffer.every((b) => b === 0x42);
    f2.unmap(); m2.unmap();
    console.log("reads:", got.join(","), "m2 clean:", m2Clean, "f2 clean:", f2Clean);
  `);
  assert.match(r.stdout, /m2 clean: true f2 clean: true/, ended(r));
  assert.ok(readFileSync(fileA).equals(Buffer.alloc(1 << 16, 0x41)), "fileA: the late read did not reach it after unmap()");
  assert.ok(readFileSync(fileB).equals(Buffer.alloc(1 << 16, 0x42)), "fileB untouched");
});

test("a quarantined range is given back once its slabs are collected", { skip: portable ? "native backend only: counts the addon's mappings" : process.versions["bun"] ? "relies on node --expose-gc" : false }, () => {
  const r = survives(`
    import { collectGarbage } from "./test/fixtures/collect.mjs";
    import { mapAnonymous } from "memmap";
    import { createRequire } from "node:module";
    import { readFileSync } from "node:fs";
    const addon = createRequire(import.meta.url)(${JSON.stringify(addonPath)});
    const base = addon.stats().live;
    let keep = [];
    for (let i = 0; i < 100; i++) { const m = mapAnonymous(1 << 20); keep.push(m.buffer); m.unmap(); }
    const held = addon.stats().live - base;             // the Buffers are still reachable: quarantined
    keep = null;
    await collectGarbage(5, 10);
    console.log("held while reachable:", held, "after collection:", addon.stats().live - base);
  `);
  assert.match(r.stdout, /held while reachable: 100 after collection: 0/, ended(r));
});

test("crypto.randomFill still running when resize() moves a shared mapping: no crash, the bytes kept", { skip: portable ? "the portable backend's resize() copies into a new heap Buffer; the old one is kept while reachable (lib/detach.ts)" : onWindows ? "not on Windows: shared memory is a section of fixed size there, resize() is ENOTSUP (anonymous.test.ts)" : false }, () => {
  const t = tempDir();
  const p = t.file("grow.bin", pattern(8 << 20));
  const r = survives(`
    import { map, mapAnonymous } from "memmap";
    import { randomFill } from "node:crypto";
    let done = 0;
    for (let i = 0; i < 20; i++) {
      const f = map(${JSON.stringify(p)}, { access: "write" });
      randomFill(f.view(4 << 20, 1 << 20), () => done++); // the pool writes into the old range
      f.resize(i % 2 ? 4096 : 16 << 20);                  // which moves (or shrinks) right away
      f.buffer[0] = 0x21;                                  // the new range works
      f.unmap();
      const s = mapAnonymous(8 << 20, { shared: true });
      s.buffer[5] = 9;
      randomFill(s.buffer, () => done++);
      s.resize(${darwinRules ? "4 << 20" : "12 << 20"}); // macOS: shared memory cannot grow (sized once), but it moves
      if (s.buffer[5] !== 9 && s.buffer[5] === undefined) throw new Error("lost");
      s.unmap();
    }
    while (done < 40) await new Promise((res) => setTimeout(res, 5));
    console.log("all", done, "jobs ended");
  `);
  assert.match(r.stdout, /all 40 jobs ended/, ended(r));
  assert.equal(readFileSync(p)[0], 0x21, "writes through the resized mapping reached the file");
});

test("crypto.randomFill still running when resize() moves or shrinks a private mapping: no crash, the mapping's own bytes kept, the file untouched", { skip: portable ? "the portable backend's resize() copies into a new heap Buffer; the old one is kept while reachable (lib/detach.ts)" : false }, () => {
  const t = tempDir();
  const p = t.file("private.bin", pattern(8 << 20));
  const r = survives(`
    import { map, mapAnonymous } from "memmap";
    import { randomFill } from "node:crypto";
    import { readFileSync } from "node:fs";
    const file = readFileSync(${JSON.stringify(p)});
    let done = 0, checked = 0;
    const fail = (what) => { console.log("WRONG", what); process.exit(3); };
    for (let i = 0; i < 24; i++) {
      const kind = ["read", "copy", "anonymous"][i % 3];
      const grow = (i >> 1) % 2 === 0;
      const m = kind === "anonymous" ? mapAnonymous(6 << 20) : map(${JSON.stringify(p)}, { access: kind, length: 6 << 20 });
      // The mapping's own pages: written at both ends of what the resize keeps.
      m.buffer[0] = 0xa1; m.buffer[4095] = 0xa2; m.buffer[(4 << 20) - 1] = 0xa3;
      randomFill(m.view(5 << 20, 1 << 20), () => done++);  // the pool writes into the old range
      m.resize(grow ? (kind === "anonymous" ? 64 << 20 : 8 << 20) : 4 << 20); // a read or copy mapping can't pass the file's end
      const b = m.buffer;
      if (b[0] !== 0xa1 || b[4095] !== 0xa2 || b[(4 << 20) - 1] !== 0xa3) fail(kind + " lost its own bytes");
      const clean = kind === "anonymous" ? b.subarray(4096, 1 << 20).every((x) => x === 0)
                                         : b.subarray(4096, 1 << 20).equals(file.subarray(4096, 1 << 20));
      if (!clean) fail(kind + ": untouched pages changed");
      b[8] = 0x33;                                           // the new range works
      m.unmap();
      checked++;
    }
    while (done < 24) await new Promise((res) => setTimeout(res, 5));
    console.log("checked", checked, "all", done, "jobs ended");
  `);
  assert.match(r.stdout, /checked 24 all 24 jobs ended/, ended(r));
  assert.ok(readFileSync(p).equals(pattern(8 << 20)), "a private mapping never writes the file");
});

test("resize() of a private mapping whose slabs are held copies only its own pages, not the file's", skipIf({ skip: portable ? "the portable backend holds a copy of the file anyway" : false }, notOnWindows("it reads /proc/self/status")), () => {
  const t = tempDir();
  const p = t.file("big.bin", pattern(256 << 20));
  const r = survives(`
    import { map } from "memmap";
    import { readFileSync } from "node:fs";
    const anon = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
    const m = map(${JSON.stringify(p)}, { access: "copy" });
    const held = m.buffer;                    // a slab over the old range: the resize must not move under it
    let sum = 0;
    for (let i = 0; i < held.length; i += 4096) sum += held[i]; // every page read: the file's, not ours
    held.fill(7, 0, 1 << 20);                 // 1 MiB of the mapping's own
    const before = anon();
    m.resize(200 << 20);
    const grown = anon() - before;
    const b = m.buffer;
    if (b[0] !== 7 || b[(1 << 20) - 1] !== 7 || b[1 << 20] !== ${pattern(256 << 20)[1 << 20]}) { console.log("WRONG bytes"); process.exit(3); }
    console.log("anonymous memory grew by", grown, "bytes; sum", sum);
  `);
  const grown = Number(/grew by (-?\d+) bytes/.exec(r.stdout)?.[1]);
  assert.ok(grown < 32 << 20, `resize() copied ${grown} bytes; at most the 1 MiB written (plus noise) was expected\n${ended(r)}`);
});

// Windows replaces a view in two steps (UnmapViewOfFile, then VirtualAlloc
// at its address): another allocator of the process may take the addresses
// in between. The test build plays that allocator.
test("on Slabs, a quarantine whose addresses another allocator takes in between: no crash, the file let go, and memmap never unmaps or writes that memory", skipIf(
  { skip: portable ? "native backend only" : process.versions["bun"] ? "relies on node --expose-gc" : false },
  { skip: !onWindows ? "Windows only: Quarantine is one mmap(MAP_FIXED) on POSIX, with no such slab" : false },
), () => {
  const t = tempDir();
  const p = t.file("taken.bin", pattern(256 << 10));
  const r = survives(`
    import { collectGarbage } from "./test/fixtures/collect.mjs";
    import assert from "node:assert/strict";
    import { map } from "memmap";
    import { createRequire } from "node:module";
    import { existsSync, unlinkSync } from "node:fs";
    const addon = createRequire(import.meta.url)(${JSON.stringify(testAddonPath)});
    const base = addon.stats().live;
    let m = map(${JSON.stringify(p)}, { access: "write" });
    let keep = m.buffer;                       // reachable: unmap() quarantines
    assert.equal(addon.takeNextQuarantineForTest(), true);
    m.unmap();
    assert.throws(() => m.buffer, { code: "ERR_MEMMAP_CLOSED" });
    unlinkSync(${JSON.stringify(p)});          // the view and the file's handle are gone
    assert.equal(existsSync(${JSON.stringify(p)}), false);
    keep = null;
    m = null;
    await collectGarbage(5, 10);
    console.log("live after collection:", addon.stats().live - base, "taken memory intact:", addon.takenIntactForTest());
  `, { MEMMAP_TEST_ADDON: "1" });
  assert.match(r.stdout, /live after collection: 0 taken memory intact: true/, ended(r));
});
