// What the C++ unit tests share: CHECK, which counts a failure and prints
// its line, and the kernel's own view of a range (/proc/self/maps). Each
// test's main() prints "ok: 0 failed check(s)" or "FAIL: ..." and exits 1
// on a failure; test/native.test.ts checks both.
#pragma once

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

inline int failures = 0;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #cond); \
      failures++;                                                            \
    }                                                                        \
  } while (0)

// The line of /proc/self/maps that starts at `addr`, or "".
inline std::string MapsLine(const void* addr) {
  char want[32];
  std::snprintf(want, sizeof want, "%lx-", reinterpret_cast<unsigned long>(addr));
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.compare(0, std::strlen(want), want) == 0) return line;
  }
  return "";
}

inline bool InProcMaps(const void* addr) { return !MapsLine(addr).empty(); }

inline int Summary() {
  std::printf("%s: %d failed check(s)\n", failures ? "FAIL" : "ok", failures);
  return failures ? 1 : 0;
}
