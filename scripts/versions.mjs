// Dotted version numbers ("2.28", "11.0", "3.4.21"), compared number by
// number: what the prebuild checks hold a built addon's needs to.

/** Whether version a is newer than version b. */
export function newer(a, b) {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  }
  return false;
}
