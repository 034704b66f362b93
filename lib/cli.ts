// The `memmap` command: see and steer what the page cache holds, in the
// spirit of vmtouch and fincore. A thin layer over the public API only.
//
// Exit codes: 0 everything was processed, 1 some files failed, 2 usage error.
//
// This file reads the command line; the commands are in cli-commands.ts,
// what they print in cli-report.ts.
import { parseArgs } from "node:util";
import { backend } from "./index.js";
import { cmdEvict, cmdLock, cmdStat, cmdTouch } from "./cli-commands.js";
import type { Ctx } from "./cli-report.js";

// The options every command takes (stat spells -L and --bytes out further).
const COMMON_OPTIONS = `  -v, --verbose   one line per file
      --json      JSON on stdout
  -L, --follow    follow symbolic links
      --bytes     sizes in bytes
  -h, --help      this help`;

const HELP: Record<string, string> = {
  main: `Usage: memmap <command> [options] [paths...]

See and steer what the page cache holds (like vmtouch).

Commands:
  stat    how much of each file is in memory (default: the current directory)
  touch   read files into the page cache
  evict   drop files from the page cache
  lock    lock files in memory until SIGINT/SIGTERM

Run "memmap <command> --help" for a command's options.
Exit codes: 0 all processed, 1 some files failed, 2 usage error.`,
  stat: `Usage: memmap stat [options] [paths...]

Prints resident pages / total pages, resident bytes / size and the percentage
of the files under each path (default: the current directory), in total and,
with -v, for each file.

Options:
  -v, --verbose   one line per file
      --json      JSON on stdout
  -L, --follow    follow symbolic links (a file reached through a link is
                  counted under that name too, as vmtouch -f does; hard
                  links are counted once)
      --bytes     sizes in bytes, not KiB/MiB/GiB
  -h, --help      this help`,
  touch: `Usage: memmap touch [options] [paths...]

Reads the files into the page cache, off the main thread, several at a time,
with a progress bar on a terminal.

Options:
  -j, --jobs N    files in flight (default 4)
${COMMON_OPTIONS}`,
  evict: `Usage: memmap evict [options] [paths...]

Drops the files from the page cache (posix_fadvise DONTNEED) and reports what
remained resident (dirty pages stay until they are written back).

Options:
${COMMON_OPTIONS}`,
  lock: `Usage: memmap lock [options] [paths...]

Maps the files and locks them in memory (mlock), prints what is locked, and
holds them until SIGINT or SIGTERM, then unlocks and exits 0. Locking needs
RLIMIT_MEMLOCK (ulimit -l) to allow it, or CAP_IPC_LOCK.

Options:
${COMMON_OPTIONS}`,
};

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function main(
  argv: string[],
  out: NodeJS.WriteStream = process.stdout,
  err: NodeJS.WriteStream = process.stderr,
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    (command === undefined ? err : out).write(`${HELP["main"]}\n`);
    return command === undefined ? 2 : 0;
  }
  if (!(command in HELP) || command === "main") {
    err.write(`memmap: unknown command '${command}'\n\n${HELP["main"]}\n`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        verbose: { type: "boolean", short: "v" },
        json: { type: "boolean" },
        follow: { type: "boolean", short: "L" },
        bytes: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        ...(command === "touch" ? { jobs: { type: "string", short: "j" } } : {}),
      },
    });
  } catch (e) {
    err.write(`memmap ${command}: ${(e as Error).message}\n\n${HELP[command]}\n`);
    return 2;
  }
  const v = parsed.values as { verbose?: boolean; json?: boolean; follow?: boolean; bytes?: boolean; help?: boolean; jobs?: string };
  if (v.help) {
    out.write(`${HELP[command]}\n`);
    return 0;
  }
  const ctx: Ctx = {
    verbose: v.verbose === true, json: v.json === true, follow: v.follow === true, bytes: v.bytes === true,
    out, err, errors: [],
  };
  const paths = parsed.positionals.length > 0 ? parsed.positionals : ["."];
  const jobs = v.jobs === undefined ? 4 : Number(v.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 1024) {
    err.write(`memmap ${command}: --jobs must be a whole number from 1 to 1024, not '${v.jobs}'\n`);
    return 2;
  }
  if (backend.name !== "native") {
    // The page cache is only visible through real mappings: say so rather
    // than report the portable backend's heap copies as "resident".
    err.write(`memmap ${command}: needs the native backend, and the portable one is active (${backend.reason})\n`);
    return 1;
  }
  switch (command) {
    case "stat":
      return await cmdStat(ctx, paths);
    case "touch":
      return await cmdTouch(ctx, paths, jobs);
    case "evict":
      return await cmdEvict(ctx, paths);
    default:
      return await cmdLock(ctx, paths);
  }
}
