// The safe API's mappings: mapFile, mapAnonymous, unmap, msync.

#include "internal.h"

namespace memmap {

struct FileSetup {
  std::string path;
  bool have_path = false;
  bool created = false;
  bool grown = false;
  int64_t old_size = 0;
  int fd = -1;

  // Puts the file back the way it was found.
  void Undo() {
    if (fd >= 0 && grown && !created) os::Truncate(fd, old_size);
    if (created) os::Unlink(path);
    os::Close(fd);
    fd = -1;
  }
};

// mapFile(path | null, fd, access, offset, length (-1: to the end),
//         size (-1: none), mode, exec, populate, hugePages, lock)
//   => [handle, byteLength]
napi_value MapFileJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(11)) return nullptr;
  FileSetup f;
  int64_t fd_in, access_i, offset, length, size, mode;
  bool exec, populate, huge, lock;
  if (!a.IsNull(0)) {
    if (!a.String(0, "path", &f.path)) return nullptr;
    f.have_path = true;
  }
  if (!a.Int(1, "fd", -1, 0x7fffffff, &fd_in) ||
      !a.Int(2, "access", 0, 2, &access_i) ||
      !a.Int(3, "offset", 0, (int64_t{1} << 53), &offset) ||
      !a.Int(4, "length", -1, (int64_t{1} << 53), &length) ||
      !a.Int(5, "size", -1, (int64_t{1} << 53), &size) ||
      !a.Int(6, "mode", 0, 07777, &mode) || !a.Bool(7, &exec) ||
      !a.Bool(8, &populate) || !a.Bool(9, &huge) || !a.Bool(10, &lock)) {
    return nullptr;
  }
  Access access = static_cast<Access>(access_i);
  bool write = access == Access::kWrite;
  if (size >= 0 && !write) {
    ThrowCode(env, "ERR_INVALID_ARG_VALUE", "size requires access \"write\"");
    return nullptr;
  }
  Reclaim();
  SysErr e;
  if (f.have_path) {
    e = WithReclaim([&] {
      return os::OpenFile(f.path, write, size >= 0, static_cast<int>(mode),
                          &f.fd, &f.created);
    });
  } else {
    if (fd_in < 0) {
      ThrowType(env, "expected a path or a file descriptor");
      return nullptr;
    }
    e = WithReclaim([&] { return os::DupFd(static_cast<int>(fd_in), &f.fd); });
  }
  if (e) {
    ThrowSys(env, e);
    return nullptr;
  }
  FileInfo fi;
  if ((e = os::Stat(f.fd, &fi))) {
    f.Undo();
    ThrowSys(env, e);
    return nullptr;
  }
  f.old_size = fi.size;
  if (fi.directory || !(fi.regular || fi.block || fi.character)) {
    // What mmap(2) would say, before any size logic can say something else.
    f.Undo();
    ThrowSys(env, Fail(fi.directory ? EISDIR : ENODEV, "mmap"));
    return nullptr;
  }
  bool sized = fi.regular || fi.block;
  if (size >= 0 && size > fi.size) {
    if (!fi.regular) {
      f.Undo();
      ThrowCode(env, "ERR_INVALID_ARG_VALUE", "size can only grow a regular file");
      return nullptr;
    }
    f.grown = true;
    if ((e = os::Reserve(f.fd, fi.size, size))) {
      f.Undo();
      ThrowSys(env, e);
      return nullptr;
    }
    fi.size = size;
  }
  if (sized) {
    if (offset > fi.size) {
      f.Undo();
      ThrowRange(env, "The offset " + std::to_string(offset) +
                          " is past the end of the file (" +
                          std::to_string(fi.size) + " bytes)");
      return nullptr;
    }
    if (length < 0) length = fi.size - offset;
    if (length > fi.size - offset) {
      f.Undo();
      ThrowRange(env, "The range [" + std::to_string(offset) + ", " +
                          std::to_string(offset + length) +
                          ") passes the end of the file (" +
                          std::to_string(fi.size) + " bytes)");
      return nullptr;
    }
  } else if (length < 0) {
    f.Undo();
    ThrowCode(env, "ERR_INVALID_ARG_VALUE",
              "length is required to map a file that has no size (a device)");
    return nullptr;
  }

  EnvData* envd = GetEnvData(env);
  Region* r = NewRegion(envd, access);
  r->opts.exec = exec;
  r->opts.populate = populate;
  r->opts.huge_pages = huge;
  size_t page = os::PageSize();
  r->file_offset = offset & ~static_cast<int64_t>(page - 1);
  r->delta = static_cast<size_t>(offset - r->file_offset);
  r->length = static_cast<size_t>(length);
  if (length > 0) {
    void* base = nullptr;
    size_t map_len = r->delta + r->length;
    e = WithReclaim([&] {
      return os::MapFile(access, f.fd, r->file_offset, map_len, r->opts, &base);
    });
    if (!e) e = Adopt(r, base, map_len);
    if (!e && lock) {
      if (write) {
        e = os::Lock(r->base, r->map_len);
      } else {
        void* shadow = nullptr;
        e = os::MapShadow(f.fd, r->file_offset, r->map_len, &shadow);
        if (!e) {
          r->shadow = static_cast<uint8_t*>(shadow);
          e = os::Lock(r->shadow, r->map_len);
        }
      }
    }
    if (e) {
      Release(r);  // unmaps what was mapped; the fd is still f's
      Unref(r);
      f.Undo();
      ThrowSys(env, e);
      return nullptr;
    }
  }
  OwnFd(r, f.fd);
  napi_value h = NewHandle(env, r);
  if (!h) return nullptr;
  napi_value out, len;
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &out));
  CHECK_NAPI(env, napi_create_double(env, static_cast<double>(r->length), &len));
  napi_set_element(env, out, 0, h);
  napi_set_element(env, out, 1, len);
  return out;
}

// mapAnonymous(length, shared, exec, populate, hugePages, lock) => handle
napi_value MapAnonymousJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(6)) return nullptr;
  int64_t length;
  bool shared, exec, populate, huge, lock;
  if (!a.Int(0, "length", 0, (int64_t{1} << 53), &length) ||
      !a.Bool(1, &shared) || !a.Bool(2, &exec) || !a.Bool(3, &populate) ||
      !a.Bool(4, &huge) || !a.Bool(5, &lock)) {
    return nullptr;
  }
  Reclaim();
  Region* r = NewRegion(GetEnvData(env),
                        shared ? Access::kAnonShared : Access::kAnonPrivate);
  r->opts.exec = exec;
  r->opts.populate = populate;
  r->opts.huge_pages = huge;
  r->length = static_cast<size_t>(length);
  SysErr e;
  if (shared) {
    // A descriptor behind it, so that share() and child processes can map it.
    int fd = -1;
    e = WithReclaim([&] { return os::SharedMemoryCreate(r->length, &fd); });
    if (e) {
      Release(r);
      Unref(r);
      ThrowSys(env, e);
      return nullptr;
    }
    OwnFd(r, fd);
  }
  if (length > 0) {
    void* base = nullptr;
    e = WithReclaim([&] {
      return shared ? os::MapFile(Access::kWrite, r->fd, 0, r->length, r->opts, &base)
                    : os::MapAnonymous(r->access, r->length, r->opts, &base);
    });
    if (!e) e = Adopt(r, base, r->length);
    if (!e && lock) e = os::Lock(r->base, r->map_len);
    if (e) {
      Release(r);
      Unref(r);
      ThrowSys(env, e);
      return nullptr;
    }
  }
  return NewHandle(env, r);
}

// unmap(handle) => boolean (false when it was already closed)
napi_value UnmapJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(1)) return nullptr;
  Region* r = a.Handle(0);
  if (!r) return nullptr;
  napi_value result;
  if (r->closed) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  r->closed = true;  // first: the callback below must find the mapping closed
  // Faults not yet told (this tick's, or coalesced ones): told now, before
  // the callback is let go.
  if (r->on_fault && r->slot >= 0) ReportFaults(env, GetEnvData(env), r, true);
  DetachAll(env, r);
  CancelWaits(env, r, WaitEnd::kUnmapped);  // rejected now
  if (r->on_fault) {
    napi_delete_reference(env, r->on_fault);
    r->on_fault = nullptr;
  }
  r->handle_alive = false;
  bool truncated = r->access == Access::kWrite && FaultCount(r) > 0;
  uint32_t faults = FaultCount(r);
  Release(r);
  if (truncated) {
    ThrowTruncated(env, faults);  // unmapped all the same; the caller must learn that writes were lost
    return nullptr;
  }
  napi_get_boolean(env, true, &result);
  return result;
}

// msync(handle, offset, length, async): MS_ASYNC when async, else MS_SYNC
napi_value MsyncJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RangeArgs ra;
  bool async;
  if (!ParseRange(a, 4, &ra) || !a.Bool(3, &async)) return nullptr;
  if (!CheckNotTruncated(env, ra.region)) return nullptr;
  if (ra.len > 0) {
    SysErr e = os::Sync(ra.addr, ra.len, async);
    if (e) return Result(env, e);
  }
  return Undefined(env);
}

bool RegisterMapApi(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"mapFile", MapFileJs, 11},
      {"mapAnonymous", MapAnonymousJs, 6},
      {"unmap", UnmapJs, 1},
      {"msync", MsyncJs, 4},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
