// Positional reads and writes that finish the job: read(2) and write(2) may
// move fewer bytes than asked, and both the portable backend and the
// OutputFile heap path need all of them.
import { readSync, write as writeCallback, writeSync } from "node:fs";
import { promisify } from "node:util";

const write = promisify(writeCallback);

/** Reads into all of `buf` from `position`; past the end of the file the rest stays as it was. */
export function readFully(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
}

/** Writes all of `data` at `position`, however many write(2) calls it takes. */
export function writeFully(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}

/** The same, off the event loop. */
export async function writeFullyAsync(fd: number, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await write(fd, data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
