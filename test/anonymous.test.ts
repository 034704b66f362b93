// mapAnonymous().
import { test } from "node:test";
import assert from "node:assert/strict";
import { constants as bufferConstants } from "node:buffer";
import { mapAnonymous, pageSize } from "memmap";
import { darwinRules, nativeOnly, portable, onWindows } from "./helpers.js";

test("anonymous memory is zero-filled, writable, of the length asked", () => {
  for (const shared of portable ? [false] : [false, true]) { // shared: native only (ENOTSUP on portable)
    const m = mapAnonymous(3 * pageSize + 1, { shared, populate: true, hugePages: true });
    assert.equal(m.byteLength, 3 * pageSize + 1);
    assert.equal(m.access, "anonymous");
    assert.ok(m.buffer.equals(Buffer.alloc(3 * pageSize + 1)));
    m.buffer.fill(0xab);
    assert.equal(m.buffer[3 * pageSize], 0xab);
    m.flushSync();
    m.unmap();
  }
});

test("length 0 is an empty mapping; bad lengths are RangeErrors", () => {
  const m = mapAnonymous(0);
  assert.equal(m.buffer.length, 0);
  m.resize(pageSize);
  assert.equal(m.buffer.length, pageSize);
  m.unmap();
  assert.throws(() => mapAnonymous(-1), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => mapAnonymous(1.5), { code: "ERR_OUT_OF_RANGE" });
  assert.throws(() => mapAnonymous("1" as never), { code: "ERR_INVALID_ARG_TYPE" });
  // More than the machine can give: mmap's ENOMEM natively; the portable
  // backend, which holds a mapping in one Buffer, refuses it by its limit.
  // (Node 22+ and Bun allow Buffers of up to 2^53 - 1 bytes: there the
  // portable backend's allocation itself fails, as ENOMEM.)
  const refusedByLimit = portable && 2 ** 52 > bufferConstants.MAX_LENGTH;
  assert.throws(() => mapAnonymous(2 ** 52), refusedByLimit ? { code: "ERR_OUT_OF_RANGE", message: /holds a mapping in one Buffer/ } : { code: "ENOMEM", syscall: "mmap" });
  assert.throws(() => mapAnonymous(1, { shared: "yes" as never }), { code: "ERR_INVALID_ARG_TYPE" });
});

test("lock: true locks anonymous memory at map time", nativeOnly("the portable backend cannot lock memory (ENOTSUP)"), () => {
  const m = mapAnonymous(4 * pageSize, { lock: true });
  assert.equal(m.residency().resident, 4, "locked pages are resident");
  m.unmap();
});

test("resize() of shared anonymous memory keeps its bytes; on Windows and macOS, where its size is fixed once made, it is ENOTSUP and says so", nativeOnly("the portable backend has no shared memory"), () => {
  const m = mapAnonymous(2 * pageSize, { shared: true });
  m.buffer.fill(7);
  if (onWindows) {
    assert.equal(m.fd, -1, "a section has no descriptor that Node knows");
    assert.throws(() => m.resize(4 * pageSize), { code: "ENOTSUP", syscall: "ftruncate", message: /section whose size is fixed/ });
    assert.equal(m.byteLength, 2 * pageSize, "the mapping is as it was");
    assert.equal(m.buffer[2 * pageSize - 1], 7);
  } else if (darwinRules) {
    // POSIX shared memory on macOS is sized once, when it is made.
    assert.ok(m.fd >= 0, "a descriptor, for a child process");
    assert.throws(() => m.resize(4 * pageSize), { code: "ENOTSUP", syscall: "ftruncate", message: /sized once/ });
    assert.equal(m.byteLength, 2 * pageSize, "the mapping is as it was");
    assert.equal(m.buffer[2 * pageSize - 1], 7);
  } else {
    assert.ok(m.fd >= 0, "a memfd, for a child process");
    m.resize(4 * pageSize);
    assert.equal(m.byteLength, 4 * pageSize);
    assert.equal(m.buffer[2 * pageSize - 1], 7);
    assert.equal(m.buffer[4 * pageSize - 1], 0);
  }
  m.unmap();
});
