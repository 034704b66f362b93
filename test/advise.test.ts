// advise(), prefetch(), lock()/unlock(), residency().
import { test } from "node:test";
import assert from "node:assert/strict";
import { map, mapAnonymous, pageSize } from "memmap";
import { nativeOnly, pattern, portable, tempDir, onWindows } from "./helpers.js";

test("residency() reports one entry a page, widened to whole pages", nativeOnly("on the portable backend every page is resident (its bytes are heap memory); checked in portable.test.ts"), () => {
  const m = mapAnonymous(8 * pageSize);
  let r = m.residency();
  assert.equal(r.pages, 8);
  assert.equal(r.pageSize, pageSize);
  assert.equal(r.resident, 0, "untouched anonymous pages are not resident");
  m.buffer[3 * pageSize] = 1;
  r = m.residency();
  assert.equal(r.resident, 1);
  assert.equal(r.map[3], 1);
  assert.equal(m.residency({ offset: pageSize - 1, length: 2 }).pages, 2);
  assert.equal(m.residency({ offset: 3 * pageSize + 10, length: 1 }).resident, 1);
  assert.throws(() => m.residency({ offset: 0, length: 9 * pageSize }), { code: "ERR_OUT_OF_RANGE" });
  m.unmap();
});

test("prefetch() pages a file in off the main thread; advise('dontneed') drops private pages", async () => {
  const t = tempDir();
  const p = t.file("pf", pattern(16 * pageSize));
  const m = map(p);
  await m.prefetch();
  assert.equal(m.residency().resident, 16);
  await m.prefetch({ offset: 5, length: 1 });
  if (!portable) {
    // Advice is a no-op on the portable backend: there are no kernel pages to drop.
    const a = mapAnonymous(4 * pageSize);
    a.buffer.fill(1);
    a.advise("dontneed");
    assert.equal(a.buffer[0], 0, "dontneed on private anonymous memory gives zero pages back");
    a.unmap();
  }
  m.unmap();
});

test("advise() accepts the named advice and refuses the rest", () => {
  const t = tempDir();
  const p = t.file("adv", pattern(4 * pageSize));
  const m = map(p);
  for (const a of ["normal", "random", "sequential", "willneed", "dontneed"] as const) m.advise(a);
  m.advise("sequential", { offset: 100, length: 10 });
  assert.throws(() => m.advise("remove" as never), { code: "ERR_INVALID_ARG_VALUE" });
  assert.throws(() => m.advise(3 as never), { code: "ERR_INVALID_ARG_VALUE" });
  m.unmap();
});

test("lock() and unlock() on every kind of mapping", nativeOnly("the portable backend cannot lock memory and says so (ENOTSUP, portable.test.ts)"), () => {
  const t = tempDir();
  const p = t.file("lk", pattern(4 * pageSize));
  for (const m of [map(p), map(p, { access: "copy" }), map(p, { access: "write" }), mapAnonymous(4 * pageSize)]) {
    m.lock();
    m.lock({ offset: 10, length: pageSize });
    assert.equal(m.residency().resident, 4, "locked pages are resident");
    m.unlock({ offset: 0, length: pageSize });
    m.unlock();
    // Windows' VirtualUnlock takes the pages out of the working set, which
    // is what residency() counts there; elsewhere they stay.
    if (!onWindows) assert.equal(m.residency().resident, 4);
    m.unmap();
  }
});
