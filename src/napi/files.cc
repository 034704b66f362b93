// Calls on a file rather than a mapping: fileAdvise (posix_fadvise and its
// kin) and reserveFile (blocks reserved before a "write" mapping grows).

#include "register.h"
#include "util.h"

namespace memmap {

// fileAdvise(path | null, fd, offset, length, advice): posix_fadvise on a
// file, by path (opened read-only for the call) or by descriptor.
static napi_value FileAdviseJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(5)) return nullptr;
  std::string path, name;
  bool have_path = !a.IsNull(0);
  int64_t fd_in, offset, length;
  if ((have_path && !a.String(0, "path", &path)) ||
      !a.Int(1, "fd", -1, 0x7fffffff, &fd_in) ||
      !a.Int(2, "offset", 0, kMaxSafe, &offset) ||
      !a.Int(3, "length", 0, kMaxSafe, &length) ||
      !a.String(4, "advice", &name)) {
    return nullptr;
  }
  int advice;
  if (!os::FileAdviceByName(name, &advice)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                          ("Unknown file advice \"" + name + "\"").c_str());
    return nullptr;
  }
  int fd = static_cast<int>(fd_in);
  bool created = false;
  SysErr e;
  if (have_path) {
    e = WithReclaim([&] { return os::OpenFile(path, false, false, 0, &fd, &created); });
  } else if (fd < 0) {
    e = Fail(EBADF, "posix_fadvise");
  }
  if (!e) e = os::FileAdvise(fd, offset, length, advice);
  if (have_path && fd >= 0) os::Close(fd);
  return UndefinedOrThrow(env, e);
}

// reserveFile(fd, size): grows the file to `size` bytes, reserving the
// blocks where the file system can (os::Reserve), so that a full disk is
// ENOSPC now and not SIGBUS later. A failure leaves the file's size as it was.
static napi_value ReserveFileJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t fd, size;
  if (!a.Need(2) || !a.Int(0, "fd", 0, 0x7fffffff, &fd) || !a.Int(1, "size", 0, kMaxSafe, &size)) {
    return nullptr;
  }
  FileInfo fi;
  SysErr e = os::Stat(static_cast<int>(fd), &fi);
  if (!e && size > fi.size && (e = os::Reserve(static_cast<int>(fd), fi.size, size))) {
    os::Truncate(static_cast<int>(fd), fi.size);
  }
  return UndefinedOrThrow(env, e);
}

bool RegisterFiles(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"fileAdvise", FileAdviseJs, 5},
      {"reserveFile", ReserveFileJs, 2},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
