// Parquet file, 10 million DOUBLEs (hyparquet): open it and read the first rows (drivers: bench/parquet-drivers.mjs).
import { parquetDrivers } from "../parquet-drivers.mjs";
import { parquetFile } from "../formats.mjs";

export const title = "Parquet file, 10 million DOUBLEs (hyparquet): open it and read the first rows";
export const baseline = "memmap asyncBuffer()";
export const setup = () => ({ file: parquetFile() });
export const drivers = parquetDrivers("first");
