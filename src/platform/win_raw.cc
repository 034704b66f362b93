// The raw layer on Windows (golang.org/x/sys/unix's calls over views): what
// maps cleanly onto Win32, with Linux's numeric values so that code written
// against Linux runs unchanged.
//
//  * mmap: MAP_SHARED or MAP_PRIVATE, optionally MAP_ANONYMOUS, and nothing
//    else. A file is a view (MapViewOfFile) of a section made for it:
//    MAP_SHARED with PROT_WRITE writes through to the file; MAP_PRIVATE, or
//    any mapping without PROT_WRITE, is a copy-on-write view, so that a
//    JavaScript write never faults (the POSIX side's promise: read-only raw
//    mappings are made privately writable). Anonymous memory is VirtualAlloc
//    (there is no fork for MAP_SHARED to share it with). Offsets must be
//    multiples of the allocation granularity (64 KiB), not just of the page
//    size: EINVAL otherwise.
//  * msync: FlushViewOfFile; MS_SYNC then waits for the disk (os::Sync).
//  * mprotect: VirtualProtect; the one documented way to fault. A touch of a
//    page it made inaccessible ends the process with the access violation
//    (exit status 0xC0000005), as SIGSEGV does on POSIX: the fault guard
//    leaves alone a fault that the page's protection explains
//    (ProtectionForbids, guard_win.cc).
//  * madvise: MADV_NORMAL, RANDOM, SEQUENTIAL, WILLNEED, DONTNEED, which is
//    what os::Advise acts on (DONTNEED drops pages from the working set but
//    keeps their contents, unlike Linux on private memory).
//  * mlock, munlock, mincore: os::Lock, os::Unlock, os::Residency.
// Everything else (MAP_FIXED and the other MAP_ flags, other advice) is
// refused with a message saying it is not available on Windows.
#include "win.h"  // first: <uv.h> before <windows.h>

#include <cerrno>
#include <mutex>

#include "platform.h"

namespace memmap {
namespace os {

namespace {

// Linux's values (x86-64 and arm64 agree on all of them).
constexpr int kProtNone = 0x0;
constexpr int kProtRead = 0x1;
constexpr int kProtWrite = 0x2;
constexpr int kProtExec = 0x4;
constexpr int kMapShared = 0x01;
constexpr int kMapPrivate = 0x02;
constexpr int kMapFixed = 0x10;
constexpr int kMapAnonymous = 0x20;
constexpr int kMsAsync = 1;
constexpr int kMsInvalidate = 2;
constexpr int kMsSync = 4;
// os::Advise's values (win_map.cc), which are Linux's.
constexpr int kMadvNormal = 0;
constexpr int kMadvRandom = 1;
constexpr int kMadvSequential = 2;
constexpr int kMadvWillneed = 3;
constexpr int kMadvDontneed = 4;

// Linux MAP_ flags a program written for Linux may pass, named in the
// refusal by their Linux values (none of them is in Constants() here).
#define MEMMAP_NOT_ON_WINDOWS(name) \
  name " is not available on Windows (ENOTSUP): only MAP_SHARED, MAP_PRIVATE and MAP_ANONYMOUS are"
struct LinuxFlag {
  int value;
  const char* why;
};
const LinuxFlag kLinuxOnlyFlags[] = {
    {kMapFixed, MEMMAP_NOT_ON_WINDOWS("MAP_FIXED")},
    {0x0100, MEMMAP_NOT_ON_WINDOWS("MAP_GROWSDOWN")},
    {0x0800, MEMMAP_NOT_ON_WINDOWS("MAP_DENYWRITE")},
    {0x1000, MEMMAP_NOT_ON_WINDOWS("MAP_EXECUTABLE")},
    {0x2000, MEMMAP_NOT_ON_WINDOWS("MAP_LOCKED")},
    {0x4000, MEMMAP_NOT_ON_WINDOWS("MAP_NORESERVE")},
    {0x8000, MEMMAP_NOT_ON_WINDOWS("MAP_POPULATE")},
    {0x10000, MEMMAP_NOT_ON_WINDOWS("MAP_NONBLOCK")},
    {0x20000, MEMMAP_NOT_ON_WINDOWS("MAP_STACK")},
    {0x40000, MEMMAP_NOT_ON_WINDOWS("MAP_HUGETLB")},
    {0x80000, MEMMAP_NOT_ON_WINDOWS("MAP_SYNC")},
    {0x100000, MEMMAP_NOT_ON_WINDOWS("MAP_FIXED_NOREPLACE")},
};
#undef MEMMAP_NOT_ON_WINDOWS

bool Writable(DWORD protect) {
  protect &= 0xff;
  return protect == PAGE_READWRITE || protect == PAGE_WRITECOPY || protect == PAGE_EXECUTE_READWRITE ||
         protect == PAGE_EXECUTE_WRITECOPY;
}
bool Readable(DWORD protect) {
  protect &= 0xff;
  return protect != PAGE_NOACCESS && protect != PAGE_EXECUTE && protect != 0;
}
bool Executable(DWORD protect) {
  protect &= 0xff;
  return protect == PAGE_EXECUTE || protect == PAGE_EXECUTE_READ || protect == PAGE_EXECUTE_READWRITE ||
         protect == PAGE_EXECUTE_WRITECOPY;
}

// Whether the range starts in a copy-on-write view (MAP_PRIVATE, or a
// mapping made without PROT_WRITE): a write there asks for WRITECOPY.
bool CopyOnWrite(void* addr) {
  MEMORY_BASIC_INFORMATION mbi;
  if (VirtualQuery(addr, &mbi, sizeof mbi) != sizeof mbi || mbi.Type != MEM_MAPPED) return false;
  DWORD p = mbi.AllocationProtect & 0xff;
  return p == PAGE_WRITECOPY || p == PAGE_EXECUTE_WRITECOPY;
}

}  // namespace

namespace win {
bool ProtectionForbids(ULONG_PTR op, uintptr_t addr) {
  MEMORY_BASIC_INFORMATION mbi;
  if (VirtualQuery(reinterpret_cast<void*>(addr), &mbi, sizeof mbi) != sizeof mbi || mbi.State != MEM_COMMIT) {
    return false;
  }
  return (op == 0 && !Readable(mbi.Protect)) || (op == 1 && !Writable(mbi.Protect)) ||
         (op == 8 && !Executable(mbi.Protect));
}
}  // namespace win

SysErr MapRaw(int fd, int64_t offset, size_t length, int prot, int flags, void** out) {
  bool exec = (prot & kProtExec) != 0;
  if (flags & kMapAnonymous) {
    // Always writable: a mapping without PROT_WRITE must take a JavaScript
    // write (as on POSIX, where it is made private and writable).
    MapOptions opts;
    opts.exec = exec;
    return MapAnonymous(Access::kAnonPrivate, length, opts, out);
  }
  HANDLE h = win::HandleOf(fd);
  if (h == INVALID_HANDLE_VALUE) return Fail(EBADF, "mmap");
  // raw.cc checks the page size; a view starts at a multiple of the
  // allocation granularity.
  if (offset % static_cast<int64_t>(AllocationGranularity()) != 0) return Fail(EINVAL, "mmap");
  if ((flags & kMapShared) && (prot & kProtWrite)) {
    return win::MapSection(h, exec ? PAGE_EXECUTE_READWRITE : PAGE_READWRITE,
                           FILE_MAP_WRITE | FILE_MAP_READ | (exec ? FILE_MAP_EXECUTE : 0), offset, length, out);
  }
  // MAP_PRIVATE, or no PROT_WRITE: copy-on-write, so that a write lands in
  // a private page and never reaches the file or faults. PROT_READ alone is
  // writable so, as on POSIX: only mprotect() narrows a raw mapping.
  return win::MapSection(h, exec ? PAGE_EXECUTE_WRITECOPY : PAGE_WRITECOPY,
                         FILE_MAP_COPY | (exec ? FILE_MAP_EXECUTE : 0), offset, length, out);
}

// FlushViewOfFile writes the view's dirty pages to the file (to the file
// system's cache: MS_ASYNC's promise). MS_SYNC's wait for the disk needs
// FlushFileBuffers on the file's handle, which the view does not give and
// the platform layer does not keep: not done (docs/backends.md), as for the
// safe API's flush(). MS_INVALIDATE has nothing to do: views of one file are
// coherent on Windows. Anonymous memory has nothing to write (Linux's msync
// succeeds there too). The flags are checked as Linux checks them.
SysErr SyncRaw(void* addr, size_t length, int flags) {
  if ((flags & ~(kMsAsync | kMsSync | kMsInvalidate)) || ((flags & kMsAsync) && (flags & kMsSync))) {
    return Fail(EINVAL, "msync");
  }
  MEMORY_BASIC_INFORMATION mbi;
  if (VirtualQuery(addr, &mbi, sizeof mbi) == sizeof mbi && mbi.Type != MEM_MAPPED) return Ok();
  return Sync(addr, length, !(flags & kMsSync));  // MS_SYNC waits for the disk (FlushFileBuffers)
}

// VirtualProtect with the PROT_ bits mapped; a write in a copy-on-write view
// is WRITECOPY (the pages stay private). Narrowing is the documented fault:
// the handler that makes it end the process is installed here.
SysErr Protect(void* addr, size_t length, int prot) {
  bool read = (prot & kProtRead) != 0, write = (prot & kProtWrite) != 0, exec = (prot & kProtExec) != 0;
  // PROT_NONE is PAGE_NOACCESS, which VirtualLock refuses (mlock() is then
  // an error, not a touch that faults).
  bool cow = write && CopyOnWrite(addr);
  DWORD protect;
  if (write) {
    protect = exec ? (cow ? PAGE_EXECUTE_WRITECOPY : PAGE_EXECUTE_READWRITE) : (cow ? PAGE_WRITECOPY : PAGE_READWRITE);
  } else if (exec) {
    // PROT_EXEC alone reads as well, as it does on x86-64 Linux: no page is
    // executable and unreadable (os::Lock reads every page it locks).
    protect = PAGE_EXECUTE_READ;
  } else {
    protect = read ? PAGE_READONLY : PAGE_NOACCESS;
  }
  DWORD old;
  if (!VirtualProtect(addr, length, protect, &old)) {
    DWORD err = GetLastError();
    // A protection the view's section does not allow (PROT_EXEC on a view
    // of a file opened without execute access) is EACCES, as mprotect(2)
    // says; the range itself is always a whole raw mapping's (raw.cc).
    return Fail(err == ERROR_ACCESS_DENIED || err == ERROR_INVALID_PARAMETER ? EACCES : win::ErrnoOf(err), "mprotect");
  }
  return Ok();
}

bool RawFlagsAllowed(int flags, int prot, const char** why) {
  // An allowlist: MAP_SHARED, MAP_PRIVATE and MAP_ANONYMOUS map cleanly onto
  // views and VirtualAlloc; nothing else has a Windows form.
  if (flags & ~(kMapShared | kMapPrivate | kMapAnonymous)) {
    *why = "only MAP_SHARED, MAP_PRIVATE and MAP_ANONYMOUS are available on Windows (ENOTSUP: MAP_FIXED, "
           "MAP_FIXED_NOREPLACE, MAP_SHARED_VALIDATE, MAP_NORESERVE, MAP_POPULATE, MAP_LOCKED, MAP_HUGETLB and the "
           "other Linux flags have no Windows equivalent)";
    for (const auto& f : kLinuxOnlyFlags) {
      if (flags & f.value) {
        *why = f.why;
        break;
      }
    }
    return false;
  }
  int type = flags & (kMapShared | kMapPrivate);
  if (type == (kMapShared | kMapPrivate)) {
    *why = "MAP_SHARED and MAP_PRIVATE together are Linux's MAP_SHARED_VALIDATE, which is not available on Windows "
           "(ENOTSUP): pass one of them";
    return false;
  }
  if (type == 0) {
    *why = "one of MAP_SHARED or MAP_PRIVATE is required";
    return false;
  }
  if (!(prot & kProtRead)) {
    *why = "PROT_READ is required (use mprotect() to make pages inaccessible)";
    return false;
  }
  return true;
}

bool RawAdviceAllowed(int advice) {
  return advice == kMadvNormal || advice == kMadvRandom || advice == kMadvSequential || advice == kMadvWillneed ||
         advice == kMadvDontneed;
}

bool RawProtAllowed(int prot) { return (prot & ~(kProtRead | kProtWrite | kProtExec)) == 0; }

bool RawIsAnonymous(int flags) { return (flags & kMapAnonymous) != 0; }

std::vector<Constant> Constants() {
  return {
      {"PROT_NONE", kProtNone},
      {"PROT_READ", kProtRead},
      {"PROT_WRITE", kProtWrite},
      {"PROT_EXEC", kProtExec},
      {"MAP_SHARED", kMapShared},
      {"MAP_PRIVATE", kMapPrivate},
      {"MAP_ANONYMOUS", kMapAnonymous},
      {"MAP_ANON", kMapAnonymous},
      {"MS_ASYNC", kMsAsync},
      {"MS_SYNC", kMsSync},
      {"MS_INVALIDATE", kMsInvalidate},
      {"MADV_NORMAL", kMadvNormal},
      {"MADV_RANDOM", kMadvRandom},
      {"MADV_SEQUENTIAL", kMadvSequential},
      {"MADV_WILLNEED", kMadvWillneed},
      {"MADV_DONTNEED", kMadvDontneed},
  };
}

}  // namespace os
}  // namespace memmap
