// Mapping a block device (a loop device over a small file). In the serial
// tier (test/tiers.mjs): a loop device is the machine's, and two attaches at
// once can race for the same /dev/loopN. Moved here from map.test.ts as it was.
import { test, type TestContext } from "node:test";
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import { closeSync, openSync, readSync } from "node:fs";
import { map, pageSize } from "memmap";
import { pattern, portable, tempDir } from "./helpers.js";

// A loop device over a small file, for `use(device)`; detached again
// whatever happens. Skips the test where there is none (not root, no
// losetup, no loop driver: containers often have neither).
function withLoopDevice(t: TestContext, image: Buffer, use: (device: string) => void): void {
  if (process.platform !== "linux") return void t.skip("loop devices (losetup) are Linux's");
  const file = tempDir().file("disk.img", image);
  let device: string;
  try {
    device = execFileSync("losetup", ["-f", "--show", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch (e) {
    const why = String((e as { stderr?: string }).stderr || (e as Error).message).trim();
    return void t.skip(`no loop device here: \`losetup -f --show\` needs root and /dev/loop-control (${why})`);
  }
  try {
    use(device);
  } finally {
    execFileSync("losetup", ["-d", device]);
  }
}

test("mapping a block device leaves the caller's file position alone: map(fd) and memmap/raw's mmap", async (t) => {
  const image = pattern(16 * pageSize);
  // memmap/raw has no portable form: imported only where the addon serves.
  const raw = portable ? null : await import("memmap/raw");
  withLoopDevice(t, image, (device) => {
    const ways: Array<[string, (fd: number) => void]> = [
      ["map(fd)", (fd) => {
        const m = map(fd);
        // The portable backend reads a device's size from fstat, which says 0.
        if (!portable) assert.ok(m.buffer.equals(image), "the device's bytes");
        assert.equal(typeof m.fd, "number"); // checks the mapping's descriptor, a dup() of the caller's
        m.unmap();
      }],
    ];
    if (raw) {
      ways.push(["memmap/raw mmap(fd)", (fd) => {
        const b = raw.mmap(fd, 0, image.length, raw.constants["PROT_READ"]!, raw.constants["MAP_SHARED"]!);
        assert.ok(b.equals(image), "the device's bytes");
        raw.munmap(b);
      }]);
    }
    for (const [how, mapIt] of ways) {
      const fd = openSync(device, "r");
      try {
        const got = Buffer.alloc(10);
        assert.equal(readSync(fd, got, 0, 10, null), 10);
        mapIt(fd);
        assert.equal(readSync(fd, got, 0, 10, null), 10, `${how}: a read at the current position still finds bytes`);
        assert.ok(got.equals(image.subarray(10, 20)), `${how}: the next read continues at byte 10`);
      } finally {
        closeSync(fd);
      }
    }
  });
});
