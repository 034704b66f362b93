// memmap/raw: the x/sys/unix layer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mapAnonymous, pageSize } from "memmap";
import { constants as C, madvise, mincore, mlock, mmap, mprotect, msync, munlock, munmap } from "memmap/raw";
import { ended, nativeOnly, pattern, runChild, tempDir } from "./helpers.js";

const ONLY = nativeOnly("the raw layer is the system calls themselves and has no portable form");

test("constants carry the platform's values", ONLY, () => {
  for (const k of ["PROT_READ", "PROT_WRITE", "MAP_SHARED", "MAP_PRIVATE", "MAP_ANONYMOUS", "MS_SYNC", "MADV_DONTNEED"]) {
    assert.equal(typeof C[k], "number", k);
  }
  assert.equal(C["PROT_READ"], 1);
});

test("mmap a file shared, write, msync, read back; munmap detaches", ONLY, () => {
  const t = tempDir();
  const p = t.file("raw", pattern(2 * pageSize));
  const fd = openSync(p, "r+");
  const b = mmap(fd, pageSize, pageSize, C["PROT_READ"]! | C["PROT_WRITE"]!, C["MAP_SHARED"]!);
  closeSync(fd);
  assert.ok(b.equals(pattern(2 * pageSize).subarray(pageSize)));
  b.write("raw!", 0);
  msync(b, C["MS_SYNC"]!);
  assert.equal(readFileSync(p).toString("utf8", pageSize, pageSize + 4), "raw!");
  madvise(b, C["MADV_WILLNEED"]!);
  mlock(b);
  munlock(b);
  assert.equal(mincore(b).length, 1);
  munmap(b);
  assert.equal(b.length, 0);
});

test("munmap takes only the Buffer mmap returned: a slice, a copy or a second call is EINVAL", ONLY, () => {
  const b = mmap(-1, 0, 4 * pageSize, C["PROT_READ"]! | C["PROT_WRITE"]!, C["MAP_PRIVATE"]! | C["MAP_ANONYMOUS"]!);
  assert.throws(() => munmap(b.subarray(pageSize)), { code: "EINVAL", syscall: "munmap" });
  assert.throws(() => munmap(Buffer.from(b)), { code: "EINVAL" });
  const safe = mapAnonymous(pageSize);
  assert.throws(() => munmap(safe.buffer), { code: "EINVAL" }, "mappings of the safe API are not the raw layer's");
  safe.unmap();
  munmap(b);
  assert.throws(() => munmap(b), { code: "EINVAL" });
  assert.throws(() => msync(b, 0), { code: "EINVAL" });
  assert.throws(() => munmap(Buffer.alloc(10)), { code: "EINVAL" });
  assert.throws(() => munmap("x" as never), { code: "ERR_INVALID_ARG_TYPE" });
});

test("mmap refuses what could crash: MAP_FIXED, no PROT_READ, a range past the end of the file", ONLY, () => {
  const t = tempDir();
  const p = t.file("short", pattern(100));
  const fd = openSync(p, "r");
  assert.throws(() => mmap(-1, 0, 4096, 3, C["MAP_PRIVATE"]! | C["MAP_ANONYMOUS"]! | C["MAP_FIXED"]!), { code: "ERR_INVALID_ARG_VALUE" });
  // MAP_HUGETLB: with no huge pages reserved the first touch is SIGBUS, which the guard cannot absorb.
  assert.throws(() => mmap(-1, 0, 2 << 20, 3, C["MAP_PRIVATE"]! | C["MAP_ANONYMOUS"]! | C["MAP_HUGETLB"]!), { code: "ERR_INVALID_ARG_VALUE", message: /MAP_HUGETLB/ });
  // An unknown bit is refused too (an allowlist, not a denylist).
  assert.throws(() => mmap(-1, 0, 4096, 3, C["MAP_PRIVATE"]! | C["MAP_ANONYMOUS"]! | 0x40000000), { code: "ERR_INVALID_ARG_VALUE" });
  assert.throws(() => mmap(-1, 0, 4096, C["PROT_NONE"]!, C["MAP_PRIVATE"]! | C["MAP_ANONYMOUS"]!), { code: "ERR_INVALID_ARG_VALUE" });
  assert.throws(() => mmap(fd, 0, 2 * pageSize, C["PROT_READ"]!, C["MAP_SHARED"]!), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => mmap(fd, 1, 10, C["PROT_READ"]!, C["MAP_SHARED"]!), { code: "EINVAL", syscall: "mmap" });
  assert.throws(() => mmap(fd, 0, 0, C["PROT_READ"]!, C["MAP_SHARED"]!), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => madvise(Buffer.alloc(1), 100), { code: "EINVAL" });
  closeSync(fd);
});

test("a read-only raw mapping takes a JavaScript write without dying; the file is unchanged", ONLY, () => {
  const t = tempDir();
  const p = t.file("ro", pattern(4096));
  const r = runChild(`
    import { mmap, munmap, constants as C } from "memmap/raw";
    import { openSync, readFileSync } from "node:fs";
    const b = mmap(openSync(${JSON.stringify(p)}, "r"), 0, 4096, C.PROT_READ, C.MAP_SHARED);
    b.fill(0);
    munmap(b);
    console.log(readFileSync(${JSON.stringify(p)})[1] === ${pattern(4096)[1]} ? "unchanged" : "CHANGED");
  `);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /unchanged/);
});

test("mprotect is the one documented way to fault: PROT_NONE then a touch kills the child with SIGSEGV", ONLY, () => {
  const r = runChild(`
    import { mmap, mprotect, constants as C } from "memmap/raw";
    const b = mmap(-1, 0, 4096, C.PROT_READ | C.PROT_WRITE, C.MAP_PRIVATE | C.MAP_ANONYMOUS);
    mprotect(b, C.PROT_READ | C.PROT_WRITE);
    b[0] = 1;
    console.log("before");
    mprotect(b, C.PROT_NONE);
    b[0] = 2;
    console.log("after");
  `);
  assert.match(r.stdout, /before/);
  assert.doesNotMatch(r.stdout, /after/);
  assert.ok(r.signal === "SIGSEGV" || r.status === 139, ended(r));
});
