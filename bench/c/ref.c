// The physical reference for the benchmark trials: the same loops in C over
// mmap and over read/pread, so every memmap figure can be shown as a
// fraction of what the machine does. Prints "<ms> <checksum>".
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static uint32_t xorshift(uint32_t* x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

static uint32_t words(const uint8_t* p) {
  uint32_t acc = 0, w;
  for (int k = 0; k < 64; k += 4) {
    memcpy(&w, p + k, 4);
    acc ^= w;
  }
  return acc;
}

static int open_or_die(const char* path, off_t* size) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    perror(path);
    exit(1);
  }
  *size = st.st_size;
  return fd;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: ref MODE FILE|DIR ARG [SEED]\n");
    return 2;
  }
  const char* mode = argv[1];
  const char* path = argv[2];
  uint64_t acc = 0;
  double t0 = now_ms();
  if (!strncmp(mode, "random-", 7)) {
    long n = atol(argv[3]);
    uint32_t x = (uint32_t)strtoul(argv[4], NULL, 10);
    off_t size;
    int fd = open_or_die(path, &size);
    uint32_t limit = (uint32_t)(size - 64);
    if (!strcmp(mode, "random-mmap")) {
      const uint8_t* p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
      for (long i = 0; i < n; i++) acc ^= words(p + xorshift(&x) % limit);
    } else {
      uint8_t buf[64];
      for (long i = 0; i < n; i++) {
        if (pread(fd, buf, 64, xorshift(&x) % limit) != 64) return 1;
        acc ^= words(buf);
      }
    }
  } else if (!strncmp(mode, "search-", 7)) {
    const char* needle = argv[3];
    size_t nl = strlen(needle);
    off_t size;
    int fd = open_or_die(path, &size);
    if (!strcmp(mode, "search-mmap")) {
      const uint8_t* p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
      const uint8_t* hit = memmem(p, size, needle, nl);
      acc = hit ? (uint64_t)(hit - p) : (uint64_t)-1;
      munmap((void*)p, size);
    } else {
      size_t chunk = 1 << 20;
      uint8_t* buf = malloc(chunk + nl);
      size_t keep = 0;
      off_t base = 0;
      acc = (uint64_t)-1;
      for (;;) {
        ssize_t r = read(fd, buf + keep, chunk);
        if (r <= 0) break;
        size_t have = keep + r;
        const uint8_t* hit = memmem(buf, have, needle, nl);
        if (hit) {
          acc = base - keep + (hit - buf);
          break;
        }
        keep = have < nl - 1 ? have : nl - 1;
        memmove(buf, buf + have - keep, keep);
        base += r;
      }
    }
    close(fd);
  } else if (!strncmp(mode, "small-", 6)) {
    long count = atol(argv[3]);
    char name[4096];
    uint8_t* buf = NULL;
    size_t cap = 0;
    static const char needle[] = "MEMMAP-NEEDLE-ABSENT";
    for (long i = 0; i < count; i++) {
      snprintf(name, sizeof name, "%s/%ld.bin", path, i);
      off_t size;
      int fd = open_or_die(name, &size);
      const uint8_t* p;
      if (!strcmp(mode, "small-mmap")) {
        p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        acc += memmem(p, size, needle, sizeof needle - 1) == NULL;
        munmap((void*)p, size);
      } else {
        if ((size_t)size > cap) buf = realloc(buf, cap = size);
        if (read(fd, buf, size) != size) return 1;
        acc += memmem(buf, size, needle, sizeof needle - 1) == NULL;
      }
      close(fd);
    }
  } else {
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
  }
  printf("%.3f %llu\n", now_ms() - t0, (unsigned long long)acc);
  return 0;
}
