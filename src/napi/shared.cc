// Shared memory: share()/attach() within a process, named objects (shm_open),
// and a mapping's descriptor.

#include "env.h"

namespace memmap {

// Anonymous shared memory handed to other threads by share()/attach(): one
// descriptor per object, kept while any mapping of it (in any thread) lives.
// The handle a thread posts is only the id, so it keeps nothing alive.
struct SharedEntry {
  int fd = -1;
  int refs = 0;
};
std::mutex g_shared_mutex;
std::map<uint64_t, SharedEntry> g_shared;
uint64_t g_next_shared = 1;

void DropShared(uint64_t id) {
  if (id == 0) return;
  std::lock_guard<std::mutex> lock(g_shared_mutex);
  auto it = g_shared.find(id);
  if (it == g_shared.end()) return;
  if (--it->second.refs == 0) {
    os::Close(it->second.fd);
    g_shared.erase(it);
  }
}

// share(handle) => id of the shared object behind an anonymous shared mapping.
napi_value ShareJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  JsMapping* r = a.HandleOf(1);
  if (!r || !CheckOpen(env, r)) return nullptr;
  if (r->range().access() != Access::kAnonShared || r->range().fd() < 0) {
    ThrowCode(env, "ERR_MEMMAP_NOT_SHAREABLE", "Only mapAnonymous(length, { shared: true }) mappings can be shared");
    return nullptr;
  }
  if (r->shared_id == 0) {
    int fd = -1;
    if (!CheckFdIntact(env, r)) return nullptr;
    SysErr e = WithReclaim([&] { return os::DupFd(r->range().fd(), &fd); });
    if (e) {
      ThrowSys(env, e);
      return nullptr;
    }
    std::lock_guard<std::mutex> lock(g_shared_mutex);
    r->shared_id = g_next_shared++;
    g_shared[r->shared_id] = SharedEntry{fd, 1};
  }
  napi_value id;
  napi_create_double(env, static_cast<double>(r->shared_id), &id);
  return id;
}

// attach(id) => [handle, byteLength]: this thread's mapping of the object.
napi_value AttachJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t id;
  if (!a.Need(1) || !a.Int(0, "id", 1, kMaxSafe, &id)) return nullptr;
  int fd = -1;
  SysErr e;
  {
    std::lock_guard<std::mutex> lock(g_shared_mutex);
    auto it = g_shared.find(static_cast<uint64_t>(id));
    if (it == g_shared.end()) {
      ThrowCode(env, "ERR_MEMMAP_GONE",
                "The shared memory is gone: every mapping of it was unmapped before attach()");
      return nullptr;
    }
    e = os::DupFd(it->second.fd, &fd);
    if (!e) it->second.refs++;
  }
  if (e) {
    ThrowSys(env, e);
    return nullptr;
  }
  JsMapping* r = NewJsMapping(env, Access::kAnonShared, MapOptions());
  if (!r) {  // ENOMEM thrown: the descriptor and the reference go back
    os::Close(fd);
    DropShared(static_cast<uint64_t>(id));
    return nullptr;
  }
  r->shared_id = static_cast<uint64_t>(id);
  return HandleAndLength(env, r, r->range().MapSharedFd(fd));
}

// fd(handle) => the mapping's own descriptor (valid until unmap), or -1.
napi_value FdJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  JsMapping* r = a.HandleOf(1);
  if (!r || !CheckOpen(env, r)) return nullptr;
  napi_value v;
  // -1 once someone closed it, or where Node would not know it (Windows' sections)
  napi_create_int32(env, r->range().FdIntact() && os::NodeKnowsFd(r->range().fd()) ? r->range().fd() : -1, &v);
  return v;
}

// shmOpen(name, create, exclusive, mode, size) => [fd, created]; size -1: not given
napi_value ShmOpenJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::string name;
  bool create, exclusive;
  int64_t mode, size;
  if (!a.Need(5) || !a.String(0, "name", &name) || !a.Bool(1, &create) || !a.Bool(2, &exclusive) ||
      !a.Int(3, "mode", 0, 07777, &mode) || !a.Int(4, "size", -1, kMaxSafe, &size)) {
    return nullptr;
  }
  int fd = -1;
  bool created = false;
  SysErr e = WithReclaim([&] {
    return os::SharedMemoryOpen(name, create, exclusive, static_cast<int>(mode), size, &fd, &created);
  });
  if (e) {
    ThrowSys(env, e);
    return nullptr;
  }
  napi_value out, v;
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &out));
  napi_create_int32(env, fd, &v);
  napi_set_element(env, out, 0, v);
  napi_get_boolean(env, created, &v);
  napi_set_element(env, out, 1, v);
  return out;
}

// shmUnlink(name)
// closeFd(fd): closes a descriptor shmOpen() returned. Not fs.closeSync:
// Deno's node:fs refuses descriptors it did not open itself (EBADF).
napi_value CloseFdJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t fd;
  if (!a.Need(1) || !a.Int(0, "fd", 0, 0x7fffffff, &fd)) return nullptr;
  os::Close(static_cast<int>(fd));
  return Undefined(env);
}

napi_value ShmUnlinkJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::string name;
  if (!a.Need(1) || !a.String(0, "name", &name)) return nullptr;
  SysErr e = os::SharedMemoryUnlink(name);
  return UndefinedOrThrow(env, e);
}

bool RegisterShared(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"share", ShareJs, 1},
      {"attach", AttachJs, 1},
      {"fd", FdJs, 1},
      {"shmOpen", ShmOpenJs, 5},
      {"shmUnlink", ShmUnlinkJs, 1},
      {"closeFd", CloseFdJs, 1},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
