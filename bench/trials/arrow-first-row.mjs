// Arrow IPC file, 400 MiB, 10 million rows: open it and read the first row (drivers: bench/arrow-drivers.mjs).
import { arrowDrivers } from "../arrow-drivers.mjs";
import { arrowFile } from "../formats.mjs";

export const title = "Arrow IPC file, 400 MiB, 10 million rows: open it and read the first row";
export const baseline = "memmap map + tableFromIPC";
export const setup = () => ({ file: arrowFile() });
export const drivers = arrowDrivers("first");
