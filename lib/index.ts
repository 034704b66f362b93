export { map, mapAnonymous, adviseFile, Mapping, pageSize, allocationGranularity } from "./mapping.js";
export type { MapOptions, AnonymousOptions, Advice, FileAdvice, Fault, Residency, FileLike, Access, Range, SharedHandle } from "./mapping.js";
export { attach, openShared, unlinkShared } from "./shared.js";
export type { SharedOptions } from "./shared.js";
export { backend } from "./select.js";
export type { Backend, WaitResult } from "./backend.js";
export type { SystemError } from "./errors.js";
export { createOutput, openRegion, OutputFile, RegionWriter, TEMP_FILE_PATTERN } from "./output.js";
export type { OutputOptions, OutputRegion } from "./output.js";
