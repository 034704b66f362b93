// The platform contract (platform.h) as every POSIX system has it: the
// process and its clock (page size, errno values, monotonic time and sleep,
// threads, the host's symbols). The rest of what POSIX systems share is
// posix_files.cc (files), posix_map.cc (mappings), posix_shm.cc (shared
// memory) and posix_flags.cc (advice names, the raw layer's flags,
// constants). What a system does its own way is asked of its file through
// posix.h (linux.cc, darwin_common.cc); no posix*.cc tests a platform macro.
#include "glibc_compat.h"  // first: pins the glibc versions of what follows
#include "posix.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <ctime>

namespace memmap {
namespace os {

size_t PageSize() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

int ErrnoForJs(int err) { return err; }

// On POSIX an offset only needs page alignment (Windows uses 64 KiB).
size_t AllocationGranularity() { return PageSize(); }

namespace sys {
struct timespec Timespec(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}
}  // namespace sys

void SleepNs(int64_t ns) {
  struct timespec ts = sys::Timespec(ns < 0 ? 0 : ns);
  nanosleep(&ts, nullptr);
}

int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

namespace {
struct ThreadStart {
  void (*fn)(void*);
  void* arg;
};
void* ThreadMain(void* p) {
  ThreadStart start = *static_cast<ThreadStart*>(p);
  delete static_cast<ThreadStart*>(p);
  start.fn(start.arg);
  return nullptr;
}
}  // namespace

SysErr StartThread(void (*fn)(void*), void* arg) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return Fail(ENOMEM, "pthread_create");
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  // Asynchronous signals stay with the threads that run JavaScript: block
  // them here (the new thread inherits the mask), then restore this
  // thread's. Not the ones an access raises: a blocked SIGBUS would kill the
  // process instead of reaching the fault guard.
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  ThreadStart* start = new ThreadStart{fn, arg};
  int r = pthread_create(&thread, &attr, ThreadMain, start);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (r != 0) {
    delete start;
    return Fail(r, "pthread_create");
  }
  return Ok();
}

void* FindSymbol(const char* name) { return dlsym(RTLD_DEFAULT, name); }

}  // namespace os
}  // namespace memmap
