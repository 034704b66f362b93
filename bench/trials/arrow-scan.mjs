// Arrow IPC file, 400 MiB, 10 million rows: open it and scan one column (80 MiB) to the end (drivers: bench/arrow-drivers.mjs).
import { arrowDrivers } from "../arrow-drivers.mjs";
import { arrowFile } from "../formats.mjs";

export const title = "Arrow IPC file, 400 MiB, 10 million rows: open it and scan one column (80 MiB) to the end";
export const baseline = "memmap map + tableFromIPC";
export const setup = () => ({ file: arrowFile() });
export const drivers = arrowDrivers("scan");
