// memmap/raw: the x/sys/unix layer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync } from "node:fs";
import { allocationGranularity, mapAnonymous, pageSize } from "memmap";
import { ended, nativeOnly, pattern, runChild, tempDir, onWindows, skipIf } from "./helpers.js";

// memmap/raw refuses to load where the native backend is not in use
// (macOS without MEMMAP_BACKEND=native: lib/select.ts).
type Raw = typeof import("memmap/raw");
let raw: Raw | undefined;
let rawRefused = "";
try {
  raw = await import("memmap/raw");
} catch (e) {
  rawRefused = (e as Error).message;
}
const { constants: C, madvise, mincore, mlock, mmap, mprotect, msync, munlock, munmap } = raw ?? ({ constants: {} } as unknown as Raw);

const ONLY = skipIf(
  nativeOnly("the raw layer is the system calls themselves and has no portable form"),
  { skip: raw ? false : `memmap/raw does not load here: ${rawRefused}` },
);

// Linux's values, which Windows gives too (code written for Linux runs
// unchanged there), for what Windows offers.
const LINUX = {
  PROT_NONE: 0, PROT_READ: 1, PROT_WRITE: 2, PROT_EXEC: 4,
  MAP_SHARED: 1, MAP_PRIVATE: 2, MAP_ANONYMOUS: 0x20, MAP_ANON: 0x20,
  MS_ASYNC: 1, MS_INVALIDATE: 2, MS_SYNC: 4,
  MADV_NORMAL: 0, MADV_RANDOM: 1, MADV_SEQUENTIAL: 2, MADV_WILLNEED: 3, MADV_DONTNEED: 4,
};

test("constants carry the platform's values", ONLY, () => {
  for (const k of ["PROT_READ", "PROT_WRITE", "MAP_SHARED", "MAP_PRIVATE", "MAP_ANONYMOUS", "MS_SYNC", "MADV_DONTNEED"]) {
    assert.equal(typeof C[k], "number", k);
  }
  assert.equal(C["PROT_READ"], 1);
  if (process.platform === "linux") {
    for (const [k, v] of Object.entries(LINUX)) assert.equal(C[k], v, k);
  }
  if (onWindows) {
    // Exactly what maps cleanly, with Linux's values; nothing Windows cannot do.
    assert.deepEqual({ ...C }, LINUX);
    assert.equal(C["MAP_FIXED"], undefined);
  }
});

test("mmap a file shared, write, msync, read back; munmap detaches", ONLY, () => {
  const t = tempDir();
  // Windows: a view's offset is a multiple of the allocation granularity (64 KiB).
  const at = onWindows ? allocationGranularity : pageSize;
  const p = t.file("raw", pattern(at + pageSize));
  const fd = openSync(p, "r+");
  const b = mmap(fd, at, pageSize, C["PROT_READ"]! | C["PROT_WRITE"]!, C["MAP_SHARED"]!);
  closeSync(fd);
  assert.ok(b.equals(pattern(at + pageSize).subarray(at)));
  b.write("raw!", 0);
  msync(b, C["MS_SYNC"]!);
  assert.equal(readFileSync(p).toString("utf8", at, at + 4), "raw!");
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
  // Windows has neither constant: Linux's values, as a program written for Linux passes them, are refused by name.
  const MAP_FIXED = C["MAP_FIXED"] ?? 0x10;
  const MAP_HUGETLB = C["MAP_HUGETLB"] ?? 0x40000;
  const notOnWindows = onWindows ? /not available on Windows/ : /./;
  assert.throws(() => mmap(-1, 0, 4096, 3, C["MAP_PRIVATE"]! | C["MAP_ANONYMOUS"]! | MAP_FIXED), { code: "ERR_INVALID_ARG_VALUE", message: /MAP_FIXED/ });
  assert.throws(() => mmap(-1, 0, 4096, 3, C["MAP_PRIVATE"]! | C["MAP_ANONYMOUS"]! | MAP_FIXED), { message: notOnWindows });
  // MAP_HUGETLB: with no huge pages reserved the first touch is SIGBUS, which the guard cannot absorb.
  assert.throws(() => mmap(-1, 0, 2 << 20, 3, C["MAP_PRIVATE"]! | C["MAP_ANONYMOUS"]! | MAP_HUGETLB), { code: "ERR_INVALID_ARG_VALUE", message: /MAP_HUGETLB/ });
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

// The documented fault's end: SIGSEGV on POSIX; on Windows the access
// violation's code as the exit status (0xC0000005), as an unhandled one.
function diedOfTheFault(r: ReturnType<typeof runChild>): void {
  if (onWindows) {
    assert.equal(r.signal, null, ended(r));
    assert.equal(r.status, 0xc0000005, ended(r));
  } else if (process.platform === "darwin") {
    assert.ok(r.signal === "SIGSEGV" || r.signal === "SIGBUS", ended(r)); // macOS raises SIGBUS for protection faults
  } else {
    assert.ok(r.signal === "SIGSEGV" || r.status === 139, ended(r));
  }
}

test("a file truncated under a raw mapping whose protection the caller changed: the guard leaves that range's faults alone", skipIf(ONLY, { skip: onWindows ? "not on Windows: a truncated file cannot be mapped there (the guard's Windows rules: guard_win.cc)" : false }), () => {
  // Without mprotect the guard answers a read past the new end with zeros;
  // after mprotect over part of the range, replacing pages (with readable,
  // writable memory) would undo protection the caller set on purpose, so
  // the fault is passed on: the child dies of it, as POSIX says.
  const t = tempDir();
  for (const protect of [false, true]) {
    const p = t.file(`shrinks-${protect}`, pattern(4 * pageSize));
    const r = runChild(`
      import { mmap, mprotect, constants as C } from "memmap/raw";
      import { openSync, truncateSync } from "node:fs";
      const page = ${pageSize};
      const b = mmap(openSync(${JSON.stringify(p)}, "r+"), 0, 4 * page, C.PROT_READ | C.PROT_WRITE, C.MAP_SHARED);
      ${protect ? "mprotect(b.subarray(3 * page), C.PROT_READ);" : ""}
      truncateSync(${JSON.stringify(p)}, page);
      console.log("read", b[2 * page]);
    `);
    if (protect) {
      assert.doesNotMatch(r.stdout, /read/, ended(r));
      assert.equal(r.signal, "SIGBUS", ended(r));
    } else {
      assert.match(r.stdout, /read 0/, ended(r));
      assert.equal(r.status, 0, ended(r));
    }
  }
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
  diedOfTheFault(r);
});

test("mprotect without PROT_WRITE: reads go on, a write kills the child", ONLY, () => {
  const t = tempDir();
  const p = t.file("ro", pattern(4096));
  const r = runChild(`
    import { mmap, mprotect, constants as C } from "memmap/raw";
    import { openSync } from "node:fs";
    const b = mmap(openSync(${JSON.stringify(p)}, "r"), 0, 4096, C.PROT_READ | C.PROT_WRITE, C.MAP_PRIVATE);
    b[0] = 1;
    mprotect(b, C.PROT_READ);
    console.log("read", b[0], b[1]);
    b[0] = 2;
    console.log("after");
  `);
  assert.match(r.stdout, new RegExp(`read 1 ${pattern(4096)[1]}`));
  assert.doesNotMatch(r.stdout, /after/);
  diedOfTheFault(r);
});

test("mprotect back to PROT_WRITE keeps a private mapping private: the file is unchanged", ONLY, () => {
  const t = tempDir();
  const p = t.file("cow", pattern(2 * pageSize));
  for (const flags of [C["MAP_PRIVATE"]!, C["MAP_SHARED"]!]) {
    const fd = openSync(p, "r");
    // MAP_SHARED without PROT_WRITE is made private too (a read-only descriptor cannot write the file).
    const prot = flags === C["MAP_PRIVATE"] ? C["PROT_READ"]! | C["PROT_WRITE"]! : C["PROT_READ"]!;
    const b = mmap(fd, 0, 2 * pageSize, prot, flags);
    closeSync(fd);
    b[0] = 0xaa;
    mprotect(b, C["PROT_READ"]!);
    mprotect(b, C["PROT_READ"]! | C["PROT_WRITE"]!);
    b[1] = 0xbb;
    b[pageSize] = 0xcc;
    assert.deepEqual([b[0], b[1], b[pageSize]], [0xaa, 0xbb, 0xcc]);
    msync(b, C["MS_SYNC"]!);
    munmap(b);
    assert.ok(readFileSync(p).equals(pattern(2 * pageSize)), `flags ${flags}: the file changed`);
  }
});

test("msync checks its flags as Linux does; anonymous memory has nothing to write", ONLY, () => {
  const b = mmap(-1, 0, pageSize, C["PROT_READ"]! | C["PROT_WRITE"]!, C["MAP_PRIVATE"]! | C["MAP_ANONYMOUS"]!);
  msync(b, C["MS_SYNC"]!);
  msync(b, C["MS_ASYNC"]! | C["MS_INVALIDATE"]!);
  msync(b, 0);
  assert.throws(() => msync(b, C["MS_SYNC"]! | C["MS_ASYNC"]!), { code: "EINVAL", syscall: "msync" });
  assert.throws(() => msync(b, 0x100), { code: "EINVAL", syscall: "msync" });
  assert.throws(() => madvise(b, 100), { code: "ERR_INVALID_ARG_VALUE" });
  madvise(b, C["MADV_DONTNEED"]!);
  munmap(b);
});

test("after mprotect(PROT_NONE) the other calls do not touch the pages", ONLY, () => {
  const t = tempDir();
  const p = t.file("none", pattern(pageSize));
  const r = runChild(`
    import { mmap, mprotect, mlock, munlock, mincore, msync, madvise, munmap, constants as C } from "memmap/raw";
    import { openSync } from "node:fs";
    for (const [fd, flags] of [[-1, C.MAP_PRIVATE | C.MAP_ANONYMOUS], [openSync(${JSON.stringify(p)}, "r+"), C.MAP_SHARED]]) {
      const b = mmap(fd, 0, ${pageSize}, C.PROT_READ | C.PROT_WRITE, flags);
      mprotect(b, C.PROT_NONE);
      for (const [name, call] of [["msync", () => msync(b, C.MS_SYNC)], ["madvise", () => madvise(b, C.MADV_WILLNEED)],
          ["mincore", () => mincore(b)], ["mlock", () => mlock(b)], ["munlock", () => munlock(b)]]) {
        try { call(); } catch (e) { console.log(name, e.code); }
      }
      munmap(b);
    }
    console.log("survived");
  `);
  assert.equal(r.signal, null, ended(r));
  assert.equal(r.status, 0, ended(r));
  assert.match(r.stdout, /survived/);
});

test("Windows: file offsets are multiples of the allocation granularity", skipIf(ONLY, { skip: onWindows ? false : "Windows only" }), () => {
  const t = tempDir();
  const p = t.file("gran", pattern(2 * allocationGranularity));
  const fd = openSync(p, "r");
  assert.throws(() => mmap(fd, pageSize, pageSize, C["PROT_READ"]!, C["MAP_SHARED"]!), { code: "EINVAL", syscall: "mmap" });
  const b = mmap(fd, allocationGranularity, pageSize, C["PROT_READ"]!, C["MAP_SHARED"]!);
  closeSync(fd);
  assert.ok(b.equals(pattern(2 * allocationGranularity).subarray(allocationGranularity, allocationGranularity + pageSize)));
  munmap(b);
  // MAP_SHARED | MAP_PRIVATE is Linux's MAP_SHARED_VALIDATE.
  assert.throws(() => mmap(-1, 0, pageSize, 3, 3 | C["MAP_ANONYMOUS"]!), { code: "ERR_INVALID_ARG_VALUE", message: /MAP_SHARED_VALIDATE/ });
});
