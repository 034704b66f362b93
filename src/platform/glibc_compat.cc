// Two symbols that code compiled with new C++ headers needs from new
// libraries, supplied here so that the addon loads where only older ones are
// (see glibc_compat.h). Both are hidden: the addon's own references bind
// to them, and nothing else in the process can see them.
#include "glibc_compat.h"

#ifdef MEMMAP_GLIBC_BASE
#include <cstdlib>

// glibc 2.32+: libstdc++'s headers read it to skip atomic operations in a
// process with one thread. 0 ("maybe several threads") is always correct:
// the atomic operations are kept.
extern "C" {
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;
}

namespace std {
// libstdc++ 11+ (GLIBCXX_3.4.29): called by an allocator asked for more
// elements than can exist, which no size memmap computes can reach. The
// library's own version throws, which this addon (built without exceptions)
// could not catch either.
[[noreturn]] __attribute__((visibility("hidden"))) void __throw_bad_array_new_length() { std::abort(); }
}  // namespace std
#endif
