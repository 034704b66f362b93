// Unit tests of src/core/range.cc (MappedRange), built without Node: g++ links this file with
// src/core/ and the platform files (src/platform/) only, so a Node-API call
// slipping into MappedRange fails the link. Run by test/native.test.ts, which
// checks the exit code; each failed check prints its line.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "check.h"
#include "../../src/core/range.h"

using memmap::Access;
using memmap::Error;
using memmap::FileRequest;
using memmap::MappedRange;
using memmap::MapOptions;


static std::string dir;
static const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

static std::string MakeFile(const char* name, size_t size) {
  std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (size_t i = 0; i < size; i++) out.put(static_cast<char>(i * 7 + 3));
  return path;
}

static int64_t SizeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// Lines of /proc/self/maps that map `path` (the range, a shadow).
static int MapsOf(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) {
    if (line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0) n++;
  }
  return n;
}

static bool FdOpen(int fd) { return fd >= 0 && fcntl(fd, F_GETFD) != -1; }

static Error MapPath(MappedRange* m, Access access, const std::string& path, int64_t offset, int64_t length,
                     int64_t size = -1) {
  m->Configure(access, MapOptions(), nullptr, nullptr);
  FileRequest req;
  req.path = path;
  req.have_path = true;
  req.offset = offset;
  req.length = length;
  req.size = size;
  return m->MapFile(req);
}

// mmap(2) wants a page-aligned offset: the mapping starts at the page that
// holds the first byte, and data() points at that byte.
static void TestUnalignedOffset() {
  std::string path = MakeFile("unaligned", 3 * kPage);
  MappedRange m;
  CHECK(!MapPath(&m, Access::kRead, path, kPage + 5, 100));
  CHECK(m.mapped());
  CHECK(reinterpret_cast<uintptr_t>(m.base()) % kPage == 0);
  CHECK(m.data() == m.base() + 5);
  CHECK(m.length() == 100);
  CHECK(m.map_len() == 105);
  CHECK(m.data()[0] == static_cast<uint8_t>((kPage + 5) * 7 + 3));
  uint8_t* addr = nullptr;
  size_t len = 0;
  CHECK(!m.PageRange(10, 20, &addr, &len));
  CHECK(addr == m.base() && len == 5 + 10 + 20);  // widened down to the page
  CHECK(m.PageRange(90, 11, &addr, &len).kind == Error::kRange);
  CHECK(m.PageRange(101, 0, &addr, &len).kind == Error::kRange);
}

// mmap(2) refuses a length of 0: an empty mapping maps nothing.
static void TestZeroLength() {
  std::string path = MakeFile("empty", 0);
  MappedRange m;
  CHECK(!MapPath(&m, Access::kRead, path, 0, -1));
  CHECK(!m.mapped() && m.data() == nullptr && m.length() == 0);
  CHECK(MappedRange::Live() == 0);
  uint8_t* addr = reinterpret_cast<uint8_t*>(1);
  size_t len = 1;
  CHECK(!m.PageRange(0, 0, &addr, &len) && addr == nullptr && len == 0);
  CHECK(m.PageRange(0, 1, &addr, &len).kind == Error::kRange);
  CHECK(!m.Lock(nullptr, 0, true));
}

static void TestSizeRules() {
  std::string path = MakeFile("rules", 100);
  MappedRange past;
  Error e = MapPath(&past, Access::kRead, path, 0, 101);
  CHECK(e.kind == Error::kRange && e.message.find("passes the end") != std::string::npos);
  MappedRange offset;
  CHECK(MapPath(&offset, Access::kRead, path, 101, -1).kind == Error::kRange);
  MappedRange read_size;
  CHECK(MapPath(&read_size, Access::kRead, path, 0, -1, 4096).kind == Error::kInvalid);
  MappedRange directory;
  e = MapPath(&directory, Access::kRead, dir, 0, -1);
  CHECK(e.kind == Error::kSys && e.sys.err == EISDIR && std::strcmp(e.sys.syscall, "mmap") == 0);
  MappedRange missing;
  e = MapPath(&missing, Access::kRead, dir + "/missing", 0, -1);
  CHECK(e.kind == Error::kSys && e.sys.err == ENOENT);
  MappedRange device;
  CHECK(MapPath(&device, Access::kRead, "/dev/zero", 0, -1).kind == Error::kInvalid);  // no size: length needed
  MappedRange zero;
  CHECK(!MapPath(&zero, Access::kRead, "/dev/zero", 0, 3 * kPage) && zero.length() == 3 * kPage);
  CHECK(MappedRange::Live() == 1);
}

// A failure leaves the file as it was found.
static void TestFailureUndoes() {
  std::string created = dir + "/created";
  MappedRange m;
  CHECK(MapPath(&m, Access::kWrite, created, 3 * kPage, 1, 2 * kPage).kind == Error::kRange);
  CHECK(SizeOf(created) == -1);  // made by the call, removed by it
  std::string grown = MakeFile("grown", 100);
  MappedRange g;
  CHECK(MapPath(&g, Access::kWrite, grown, 3 * kPage, 1, 2 * kPage).kind == Error::kRange);
  CHECK(SizeOf(grown) == 100);  // grown by the call, cut back
  MappedRange ok;
  CHECK(!MapPath(&ok, Access::kWrite, grown, 0, -1, 2 * kPage));
  CHECK(SizeOf(grown) == static_cast<int64_t>(2 * kPage) && ok.length() == 2 * kPage);
}

// The destructor gives everything back: the range and the descriptor.
static void TestDestructorUnmaps() {
  std::string path = MakeFile("destructor", kPage);
  size_t before = MappedRange::Live();
  uint8_t* base = nullptr;
  int fd = -1;
  {
    MappedRange m;
    CHECK(!MapPath(&m, Access::kCopy, path, 0, -1));
    base = m.base();
    fd = m.fd();
    CHECK(InProcMaps(base) && FdOpen(fd));
    CHECK(MappedRange::Live() == before + 1);
    m.data()[0] = 42;  // copy-on-write: never reaches the file
  }
  CHECK(!InProcMaps(base));
  CHECK(!FdOpen(fd));
  CHECK(MappedRange::Live() == before);
  std::ifstream in(path, std::ios::binary);
  CHECK(in.get() == 3);
}

// The descriptor is the user's to close: once its number names another
// file, the MappedRange neither uses nor closes it.
static void TestFdReused() {
  std::string path = MakeFile("reused", kPage);
  std::string other = MakeFile("other", kPage);
  int fd = -1;
  {
    MappedRange m;
    CHECK(!MapPath(&m, Access::kWrite, path, 0, -1));
    fd = m.fd();
    CHECK(m.FdIntact());
    close(fd);
    CHECK(open(other.c_str(), O_RDONLY) == fd);  // the lowest free number
    CHECK(!m.FdIntact());
    Error e = m.Resize(2 * kPage, false, nullptr);
    CHECK(e.kind == Error::kSys && e.sys.err == EBADF);
  }
  CHECK(FdOpen(fd));  // still the other file's
  close(fd);
}

static void TestResize() {
  std::string path = MakeFile("resize", kPage);
  MappedRange m;
  CHECK(!MapPath(&m, Access::kWrite, path, 0, -1));
  m.data()[0] = 9;
  CHECK(!m.Resize(3 * kPage, false, nullptr));
  CHECK(m.length() == 3 * kPage && SizeOf(path) == static_cast<int64_t>(3 * kPage));  // grown with it
  CHECK(m.data()[0] == 9);
  m.data()[3 * kPage - 1] = 1;  // mapped and backed
  // Held: the old addresses must stay reserved. Shrinking cannot happen in
  // place, so the old range is retired into `retired`, quarantined.
  size_t live = MappedRange::Live();
  uint8_t* old = m.base();
  {
    MappedRange retired;
    CHECK(!m.Resize(kPage, true, &retired));
    CHECK(retired.mapped() && retired.base() == old && retired.quarantined());
    CHECK(m.base() != old && m.data()[0] == 9 && m.length() == kPage);
    CHECK(MappedRange::Live() == live + 1);
    CHECK(InProcMaps(old));
  }
  CHECK(MappedRange::Live() == live && !InProcMaps(old));
  // A read mapping cannot grow its file.
  MappedRange r;
  CHECK(!MapPath(&r, Access::kRead, path, 0, -1));
  Error e = r.Resize(SizeOf(path) + 1, false, nullptr);
  CHECK(e.kind == Error::kRange);
  // Resized to nothing, then back.
  CHECK(!m.Resize(0, false, nullptr) && !m.mapped() && m.length() == 0);
  CHECK(!m.Resize(kPage, false, nullptr) && m.mapped() && m.data()[0] == 9);
}

// A private mapping's own pages (written, copied on write) move with it.
static void TestResizePrivateHeld() {
  std::string path = MakeFile("private", 2 * kPage);
  MappedRange m;
  CHECK(!MapPath(&m, Access::kCopy, path, 0, -1));
  m.data()[kPage + 1] = 77;
  MappedRange retired;
  CHECK(!m.Resize(kPage + 2, true, &retired));
  CHECK(m.data()[kPage + 1] == 77);   // the written page was copied
  CHECK(m.data()[0] == 3);            // the file's page read through
}

static void TestAnonymous() {
  MappedRange shared;
  shared.Configure(Access::kAnonShared, MapOptions(), nullptr, nullptr);
  CHECK(!shared.MapAnonymous(2 * kPage, false));
  CHECK(shared.fd() >= 0 && shared.mapped() && shared.data()[0] == 0);
  shared.data()[5] = 5;
  if (memmap::os::SharedMemoryResizable()) {
    CHECK(!shared.Resize(4 * kPage, false, nullptr) && shared.data()[5] == 5);
  } else {  // macOS: sized once, when it was made
    Error grown = shared.Resize(4 * kPage, false, nullptr);
    CHECK(grown.kind == Error::kSys && grown.sys.err == ENOTSUP && grown.sys.hint != nullptr);
    CHECK(shared.length() == 2 * kPage && shared.data()[5] == 5);
  }
  MappedRange empty;
  empty.Configure(Access::kAnonPrivate, MapOptions(), nullptr, nullptr);
  CHECK(!empty.MapAnonymous(0, false) && !empty.mapped());
  MappedRange locked;
  locked.Configure(Access::kAnonPrivate, MapOptions(), nullptr, nullptr);
  Error e = locked.MapAnonymous(kPage, true);
  CHECK(!e || (e.kind == Error::kSys && (e.sys.err == EPERM || e.sys.err == ENOMEM || e.sys.err == EAGAIN)));
}

// Quarantine: the addresses stay taken by inert memory; the file goes.
static void TestQuarantine() {
  std::string path = MakeFile("quarantine", kPage);
  MappedRange m;
  CHECK(!MapPath(&m, Access::kWrite, path, 0, -1));
  int fd = m.fd();
  uint8_t* base = m.base();
  CHECK(m.Quarantine());
  CHECK(!m.Quarantine());  // once
  CHECK(m.quarantined() && m.base() == base && InProcMaps(base));
  CHECK(!FdOpen(fd) && !m.guarded());
  CHECK(base[0] == 0);  // inert: zeros, never the file, never SIGBUS
  base[0] = 1;          // and writable without reaching the file
  std::ifstream in(path, std::ios::binary);
  CHECK(in.get() == 3);
}

// A private file mapping is locked through a hidden shared mapping.
// The shadow goes with the mapping.
static void TestLockPrivate() {
  std::string path = MakeFile("lock", 2 * kPage);
  {
    MappedRange m;
    CHECK(!MapPath(&m, Access::kRead, path, 0, -1));
    CHECK(!m.Lock(m.base(), kPage, false));  // unlock before any lock: nothing to do
    CHECK(MapsOf(path) == 1);
    Error e = m.Lock(m.base(), kPage, true);
    CHECK(!e || e.sys.err == EPERM || e.sys.err == ENOMEM || e.sys.err == EAGAIN);
    if (!e) {
      CHECK(MapsOf(path) >= 2);  // the range and its shadow (mlock may split it)
      CHECK(!m.Lock(m.base(), kPage, false));
      CHECK(!m.Lock(m.base(), kPage, true));
    }
  }
  CHECK(MapsOf(path) == 0);
}

// Abandon() gives nothing back: the range stays mapped (and counted) for
// whatever may still use it.
static void TestAbandon() {
  std::string path = MakeFile("abandon", kPage);
  size_t live = MappedRange::Live();
  uint8_t* base = nullptr;
  {
    MappedRange m;
    CHECK(!MapPath(&m, Access::kRead, path, 0, -1));
    CHECK(m.Quarantine());
    base = m.base();
    m.Abandon();
    CHECK(!m.mapped());
  }
  CHECK(InProcMaps(base) && MappedRange::Live() == live + 1);
  CHECK(base[0] == 0);  // inert memory, readable for good
}

int main() {
  char tmpl[] = "/tmp/memmap-mapping-XXXXXX";
  if (!mkdtemp(tmpl)) return 2;
  dir = tmpl;
  TestUnalignedOffset();
  TestZeroLength();
  TestSizeRules();
  TestFailureUndoes();
  TestDestructorUnmaps();
  TestFdReused();
  TestResize();
  TestResizePrivateHeld();
  TestAnonymous();
  TestQuarantine();
  TestLockPrivate();
  TestAbandon();
  std::string rm = "rm -rf '" + dir + "'";
  if (std::system(rm.c_str()) != 0) failures++;
  return Summary();
}
