// Pins the glibc functions the addon calls to their oldest versions, so that
// one build runs on every glibc Node 20+ runs on (2.28 and later), however
// new the glibc it was built on: glibc 2.34 moved pthread_*, dl* and shm_*
// into libc under a new version (GLIBC_2.34), keeping the old ones too, and
// 2.33 made fstat a real function (GLIBC_2.33; memmap calls the system call
// instead, in src/platform/linux.cc). binding.gyp links libpthread, libdl and
// librt, where the old versions live below 2.34. `npm run build:prebuilds` checks
// the result (no GLIBC_ version above 2.28, no GLIBCXX_ above 3.4.21, what
// Node's own binaries need). Included first by the files that call them;
// nothing on other C libraries (musl) or systems. glibc_compat.cc supplies the two
// symbols that new C++ headers make a build need.
#pragma once

// MEMMAP_GLIBC_PINS: binding.gyp defines it where it builds for Linux on
// glibc (memmap_glibc), the one place that knows.
#ifdef MEMMAP_GLIBC_PINS
#if defined(__x86_64__)
#define MEMMAP_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define MEMMAP_GLIBC_BASE "GLIBC_2.17"
#endif
#endif

#ifdef MEMMAP_GLIBC_BASE
#define MEMMAP_PIN(fn) __asm__(".symver " #fn "," #fn "@" MEMMAP_GLIBC_BASE)
MEMMAP_PIN(pthread_create);
MEMMAP_PIN(pthread_once);
MEMMAP_PIN(pthread_attr_setstacksize);
MEMMAP_PIN(pthread_sigmask);
MEMMAP_PIN(dlopen);
MEMMAP_PIN(dlsym);
MEMMAP_PIN(dladdr);
MEMMAP_PIN(shm_open);
MEMMAP_PIN(shm_unlink);
#undef MEMMAP_PIN
#endif
