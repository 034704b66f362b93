// The raw layer: the golang.org/x/sys/unix calls, over buffers this addon
// made.

#include "env.h"

namespace memmap {

struct RawBuf {
  JsMapping* mapping = nullptr;
  uint8_t* data = nullptr;
  size_t length = 0;
  size_t byte_offset = 0;
  napi_value arraybuffer = nullptr;
};

// Finds the raw mapping that holds the whole of `value` (a Buffer or other
// typed array); EINVAL when there is none, like x/sys's mmapper.
bool FindRaw(napi_env env, napi_value value, RawBuf* out) {
  bool is_ta = false;
  if (napi_is_typedarray(env, value, &is_ta) != napi_ok || !is_ta) {
    ThrowType(env, "The \"buffer\" argument must be a Buffer returned by mmap()");
    return false;
  }
  napi_typedarray_type type;
  size_t count;
  void* data;
  if (napi_get_typedarray_info(env, value, &type, &count, &data,
                               &out->arraybuffer, &out->byte_offset) != napi_ok) {
    ThrowType(env, "The \"buffer\" argument must be a Buffer returned by mmap()");
    return false;
  }
  size_t elem = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: elem = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
    default: elem = 1;
  }
  out->data = static_cast<uint8_t*>(data);
  out->length = count * elem;
  EnvData* envd = GetEnvData(env);
  uintptr_t p = reinterpret_cast<uintptr_t>(data);
  if (data && out->length > 0) {
    auto it = envd->raw.upper_bound(p);
    if (it != envd->raw.begin()) {
      --it;
      JsMapping* r = it->second;
      uintptr_t base = reinterpret_cast<uintptr_t>(r->range().base());
      if (r->range().mapped() && !r->closed() && p >= base && p + out->length <= base + r->range().map_len()) {
        out->mapping = r;
        return true;
      }
    }
  }
  ThrowSys(env, Fail(EINVAL, "memmap"));
  return false;
}

// mmap(fd, offset, length, prot, flags) => Buffer
napi_value RawMmapJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(5)) return nullptr;
  int64_t fd, offset, length, prot, flags;
  if (!a.Int(0, "fd", -1, 0x7fffffff, &fd) ||
      !a.Int(1, "offset", 0, kMaxSafe, &offset) ||
      !a.Int(2, "length", 1, kMaxSafe, &length) ||
      !a.Int(3, "prot", 0, 0x7fffffff, &prot) ||
      !a.Int(4, "flags", 0, 0x7fffffff, &flags)) {
    return nullptr;
  }
  const char* why = nullptr;
  if (!os::RawProtAllowed(static_cast<int>(prot)) ||
      !os::RawFlagsAllowed(static_cast<int>(flags), static_cast<int>(prot), &why)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                          why ? why : "unsupported PROT_* bits");
    return nullptr;
  }
  if (offset % static_cast<int64_t>(os::PageSize()) != 0) {
    ThrowSys(env, Fail(EINVAL, "mmap"));
    return nullptr;
  }
  bool anon = os::RawIsAnonymous(static_cast<int>(flags));
  if (!anon) {
    if (fd < 0) {
      ThrowSys(env, Fail(EBADF, "mmap"));
      return nullptr;
    }
    FileInfo fi;
    SysErr e = os::Stat(static_cast<int>(fd), &fi);
    if (e) {
      ThrowSys(env, e);
      return nullptr;
    }
    // Touching a page past the end of a file raises SIGBUS: refuse it here.
    if ((fi.regular || fi.block) && (offset > fi.size || length > fi.size - offset)) {
      ThrowRange(env, "The range [" + std::to_string(offset) + ", " +
                          std::to_string(offset + length) +
                          ") passes the end of the file (" +
                          std::to_string(fi.size) + " bytes)");
      return nullptr;
    }
  }
  Reclaim();
  // A file range maps the caller's own description, which other ranges may
  // map too: it may merge with them (see kMergeReserve).
  size_t reserved = anon ? 0 : kMergeReserve;
  if (reserved > 0) {
    SysErr refused = budget::Reserve(reserved, "mmap");
    if (refused) {
      ThrowSys(env, refused);
      return nullptr;
    }
  }
  // Where the guard must confirm a fault against the file before it
  // replaces a page (macOS), it needs the file for as long as the range
  // lives: a descriptor of its own, since the caller may close theirs.
  int guard_fd = -1;
  if (!anon && os::FaultsNeedConfirming()) {
    SysErr dup = WithReclaim([&] { return os::DupFd(static_cast<int>(fd), &guard_fd); });
    if (dup) {
      budget::Unreserve(reserved);
      ThrowSys(env, dup);
      return nullptr;
    }
  }
  void* base = nullptr;
  SysErr e = WithReclaim([&] {
    SysErr refused = budget::Take(1, "mmap", 1);
    if (refused) return refused;
    return os::MapRaw(anon ? -1 : static_cast<int>(fd), offset,
                      static_cast<size_t>(length), static_cast<int>(prot),
                      static_cast<int>(flags), &base);
  });
  if (e) {
    os::Close(guard_fd);
    budget::Unreserve(reserved);
    ThrowSys(env, e);
    return nullptr;
  }
  EnvData* envd = GetEnvData(env);
  JsMapping* r = NewJsMapping(env, Access::kRaw, MapOptions());
  if (!r) {
    os::Unmap(base, static_cast<size_t>(length));  // ENOMEM thrown: nothing is left mapped
    os::Close(guard_fd);
    budget::Unreserve(reserved);
    return nullptr;
  }
  envd->raw[reinterpret_cast<uintptr_t>(base)] = r;
  Error adopted = r->range().Adopt(base, static_cast<size_t>(length), reserved);
  if (!adopted && guard_fd >= 0) r->range().GuardFile(guard_fd, offset);
  else os::Close(guard_fd);
  if (!AcceptMapped(env, r, adopted)) return nullptr;
  napi_value buf = NewSlab(env, r, 0, r->range().length(), false);  // the user's to drop: never pinned
  if (!buf) {
    r->GiveUp();
    DropRef(r);
    return nullptr;
  }
  r->raw_slab = r->slabs;
  // From here the Buffer alone keeps the range (a raw mapping has no handle).
  r->HandleGone();
  DropRef(r);
  return buf;
}

// munmap(buffer): only the very Buffer that mmap() returned.
napi_value RawMunmapJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(1)) return nullptr;
  RawBuf b;
  if (!FindRaw(env, a.argv[0], &b)) return nullptr;
  JsMapping* r = b.mapping;
  bool same = false;
  napi_value ab = nullptr;
  if (r->raw_slab && b.data == r->range().base() && b.length == r->range().map_len() &&
      b.byte_offset == 0 && r->raw_slab->ref &&
      napi_get_reference_value(env, r->raw_slab->ref, &ab) == napi_ok && ab) {
    napi_strict_equals(env, ab, b.arraybuffer, &same);
  }
  if (!same) {
    ThrowSys(env, Fail(EINVAL, "munmap"));
    return nullptr;
  }
  r->BeginClose();
  DetachAll(env, r);
  r->EndClose();
  return Undefined(env);
}

// The raw calls on the pages a buffer covers, by name; `arg` names the
// integer argument the first three take.
enum class RawOpKind { kMsync, kMadvise, kMprotect, kMlock, kMunlock, kMincore };
struct RawOpName {
  const char* name;
  RawOpKind kind;
  const char* arg;
};
const RawOpName kRawOps[] = {
    {"msync", RawOpKind::kMsync, "flags"},   {"madvise", RawOpKind::kMadvise, "advice"},
    {"mprotect", RawOpKind::kMprotect, "prot"}, {"mlock", RawOpKind::kMlock, nullptr},
    {"munlock", RawOpKind::kMunlock, nullptr}, {"mincore", RawOpKind::kMincore, nullptr},
};

// rawPages(op, buffer, arg) => undefined, or (mincore) a Buffer, one byte a page
napi_value RawPagesJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::string name;
  if (!a.Need(3) || !a.String(0, "op", &name)) return nullptr;
  const RawOpName* op = nullptr;
  for (const RawOpName& o : kRawOps) {
    if (name == o.name) op = &o;
  }
  if (!op) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", ("Unknown raw call \"" + name + "\"").c_str());
    return nullptr;
  }
  int64_t arg = 0;
  if (op->arg && !a.Int(2, op->arg, 0, 0x7fffffff, &arg)) return nullptr;
  RawBuf b;
  if (!FindRaw(env, a.argv[1], &b)) return nullptr;
  size_t page = os::PageSize();
  uintptr_t start = reinterpret_cast<uintptr_t>(b.data);
  uintptr_t aligned = start & ~(page - 1);
  void* p = reinterpret_cast<void*>(aligned);
  size_t n = start + b.length - aligned;
  SysErr e;
  // Advice, protection and locks over part of the mapping split it.
  bool splits = (op->kind == RawOpKind::kMadvise && os::AdviceSplits(static_cast<int>(arg))) ||
                op->kind == RawOpKind::kMprotect || op->kind == RawOpKind::kMlock || op->kind == RawOpKind::kMunlock;
  if (splits && (e = b.mapping->range().TakeSplits(static_cast<uint8_t*>(p), n, op->name))) return UndefinedOrThrow(env, e);
  switch (op->kind) {
    case RawOpKind::kMsync: e = os::SyncRaw(p, n, static_cast<int>(arg)); break;
    case RawOpKind::kMadvise:
      if (!os::RawAdviceAllowed(static_cast<int>(arg))) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                              "This advice is not allowed from JavaScript");
        return nullptr;
      }
      e = os::Advise(p, n, static_cast<int>(arg));
      break;
    case RawOpKind::kMprotect:
      if (!os::RawProtAllowed(static_cast<int>(arg))) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "unsupported PROT_* bits");
        return nullptr;
      }
      // Flagged first: on macOS a protection fault is SIGBUS, and one from
      // another thread right after mprotect() must not find the range unflagged.
      b.mapping->range().ProtectionChanged();
      e = os::Protect(p, n, static_cast<int>(arg));
      break;
    case RawOpKind::kMlock: e = os::Lock(p, n); break;
    case RawOpKind::kMunlock: e = os::Unlock(p, n); break;
    case RawOpKind::kMincore: {
      size_t pages = (n + page - 1) / page;
      void* data = nullptr;
      napi_value out;
      CHECK_NAPI(env, napi_create_buffer(env, pages, &data, &out));
      e = os::Residency(p, n, static_cast<uint8_t*>(data));
      if (e) break;
      return out;
    }
  }
  return UndefinedOrThrow(env, e);
}

bool RegisterRaw(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"rawMmap", RawMmapJs, 5},
      {"rawMunmap", RawMunmapJs, 1},
      {"rawPages", RawPagesJs, 3},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
