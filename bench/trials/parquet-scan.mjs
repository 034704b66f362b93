// Parquet file, 10 million DOUBLEs (hyparquet): open it and scan the column to the end (drivers: bench/parquet-drivers.mjs).
import { parquetDrivers } from "../parquet-drivers.mjs";
import { parquetFile } from "../formats.mjs";

export const title = "Parquet file, 10 million DOUBLEs (hyparquet): open it and scan the column to the end";
export const baseline = "memmap asyncBuffer()";
export const setup = () => ({ file: parquetFile() });
export const drivers = parquetDrivers("scan");
