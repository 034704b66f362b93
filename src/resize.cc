// resize(): grow or shrink a mapping without moving it from under anything
// that can still reach it.

#include "internal.h"

namespace memmap {

// Copies a private mapping's own pages into `to`, a fresh mapping of the
// same kind (see os::CopyPrivatePages). A fresh file mapping is guarded for
// the copy: the file may have shrunk meanwhile.
SysErr CopyOwnPages(Region* r, void* to, size_t len, bool file) {
  int slot = -1;
  if (file && (slot = guard::Add(to, len, nullptr, nullptr)) < 0) return Fail(ENOMEM, "mmap");
  os::CopyPrivatePages(r->base, to, std::min(len, r->map_len), !file);
  if (slot >= 0) guard::Remove(slot);
  return Ok();
}

// resize(handle, newLength). Views handed out before are detached.
napi_value ResizeJs(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.Need(2)) return nullptr;
  Region* r = a.Handle(0);
  int64_t new_length;
  if (!r || !a.Int(1, "newLength", 0, (int64_t{1} << 53), &new_length)) {
    return nullptr;
  }
  if (!CheckOpen(env, r)) return nullptr;
  if (r->inflight > 0) {
    // Say what is pending: thread-pool work, waits, or both.
    size_t waits = r->waits.size();
    bool work = static_cast<size_t>(r->inflight) > waits;
    std::string what = work && waits ? "a flush() or prefetch() is running and a waitAsync() is pending"
                       : work        ? "a flush() or prefetch() is running"
                                     : "a waitAsync() is pending";
    ThrowCode(env, "ERR_MEMMAP_BUSY", "The mapping cannot be resized while " + what + " on it; await it first");
    return nullptr;
  }
  if (FaultCount(r) > 0) {
    // The guard put zero pages into the range: the kernel cannot move it as
    // one mapping any more (mremap would say EFAULT).
    ThrowCode(env, "ERR_MEMMAP_TRUNCATED",
              "The file was truncated (or failed) under this mapping and pages were replaced with zeros: "
              "it cannot be resized; unmap it and map the file again");
    return nullptr;
  }
  bool file = r->fd >= 0;
  int64_t grown_from = -1;  // the file's size before this call grew it
  bool device = false;      // a character device (/dev/zero): each mmap of it is new memory
  SysErr e;
  if (file) {
    FileInfo fi;
    if (!StatOwnFd(r, &fi)) {
      ThrowSys(env, Fail(EBADF, "fstat"));  // closed by someone else: nothing to do safely
      return nullptr;
    }
    int64_t end = r->file_offset + static_cast<int64_t>(r->delta) + new_length;
    // A character device (/dev/zero) has no size to pass: mmap takes any
    // length of it, and so does a resize.
    device = fi.character;
    if (end > fi.size && !fi.character) {
      if ((r->access != Access::kWrite && r->access != Access::kAnonShared) || !fi.regular) {
        ThrowRange(env, "The new length passes the end of the file (" +
                            std::to_string(fi.size) + " bytes)");
        return nullptr;
      }
      // Grow the file first, reserving the blocks.
      if ((e = os::Reserve(r->fd, fi.size, end))) {
        os::Truncate(r->fd, fi.size);
        ThrowSys(env, e);
        return nullptr;
      }
      grown_from = fi.size;
    }
  }
  // Locks do not survive a resize: drop them explicitly so that the result
  // does not depend on how the kernel moves locked ranges.
  if (r->shadow) {
    os::Unmap(r->shadow, r->map_len);
    r->shadow = nullptr;
  } else if (r->base && (r->access == Access::kWrite ||
                         r->access == Access::kAnonPrivate ||
                         r->access == Access::kAnonShared)) {
    os::Unlock(r->base, r->map_len);
  }
  size_t new_map_len = new_length > 0 ? r->delta + static_cast<size_t>(new_length) : 0;
  // Windows over the current range may still be held by native code (a
  // thread-pool job with the pointer, memory moved by transfer()): then the
  // range must not move away under them. It grows where it is if it can.
  // Otherwise the new range is mapped afresh and the old one is retired:
  // quarantined, and given back when its last window is collected. A shared
  // mapping's pages live in the file (or memfd); a private one's own pages
  // (written, or copied on write) are copied over first.
  bool shared = r->access == Access::kWrite || r->access == Access::kAnonShared;
  bool held = r->base && r->holding > 0;
  bool retire = false;
  void* base = nullptr;
  if (new_map_len == 0) {
    retire = held;
  } else if (!r->base) {
    e = WithReclaim([&] {
      return file ? os::MapFile(shared ? Access::kWrite : r->access, r->fd, r->file_offset, new_map_len, r->opts, &base)
                  : os::MapAnonymous(r->access, new_map_len, r->opts, &base);
    });
  } else if (held && new_map_len >= r->map_len && !os::RemapInPlace(r->base, r->map_len, new_map_len)) {
    base = r->base;  // grown in place: every window over it stays valid
  } else if (held) {
    retire = true;
    e = WithReclaim([&] {
      return file ? os::MapFile(shared ? Access::kWrite : r->access, r->fd, r->file_offset, new_map_len, r->opts, &base)
                  : os::MapAnonymous(r->access, new_map_len, r->opts, &base);
    });
    if (!e && shared && device) {
      // A shared mapping of a device is not the device's pages: every
      // mmap(MAP_SHARED) of /dev/zero is a fresh zero-filled object. The
      // bytes move with the mapping.
      memcpy(base, r->base, std::min(new_map_len, r->map_len));
    } else if (!e && !shared && (e = CopyOwnPages(r, base, new_map_len, file))) {
      os::Unmap(base, new_map_len);
      base = nullptr;
    }
  } else {
    // Out of the guard while the range moves: its old address may be reused.
    guard::Move(r->slot, nullptr, 0);
    e = WithReclaim([&] { return os::Remap(r->base, r->map_len, new_map_len, &base); });
    if (e) guard::Move(r->slot, r->base, r->map_len);
  }
  if (e) {
    if (grown_from >= 0) os::Truncate(r->fd, grown_from);  // leave the file as it was
    ThrowSys(env, e);
    return nullptr;
  }
  DetachAll(env, r);
  if (retire) {
    guard::Move(r->slot, nullptr, 0);  // quarantined memory cannot raise SIGBUS
    os::Quarantine(r->base, r->map_len);  // if it cannot, the old mapping stays as it was: still no fault
    Retired* t = new Retired();
    t->base = r->base;
    t->len = r->map_len;
    for (Window* w = r->windows; w; w = w->next) {
      if (w->holding && !w->retired) {
        w->retired = t;
        t->holding++;
      }
    }
    r->holding -= t->holding;
    r->base = nullptr;  // the retired range keeps its place in g_live
    if (!base) {
      guard::Remove(r->slot);
      r->slot = -1;
      r->envd->live.erase(r);
    }
  }
  if (new_map_len == 0 && r->base) {
    guard::Remove(r->slot);
    r->slot = -1;
    r->envd->live.erase(r);
    os::Unmap(r->base, r->map_len);
  }
  bool had = r->base != nullptr;
  r->base = static_cast<uint8_t*>(base);
  r->map_len = new_map_len;
  r->length = static_cast<size_t>(new_length);
  if (had && !base) g_live--;
  if (!had && base) g_live++;
  Report(r, base ? ReportedCost(r) : 0);
  if (base && r->slot >= 0) {
    guard::Move(r->slot, base, new_map_len);
  } else if (base && (e = Guard(r))) {
    ThrowSys(env, e);  // mapped but unguarded: refuse to hand it out
    return nullptr;
  }
  return Undefined(env);
}

bool RegisterResize(napi_env env, napi_value exports) {
  static const FnSpec fns[] = {
      {"resize", ResizeJs, 2},
  };
  return DefineFunctions(env, exports, fns, sizeof fns / sizeof fns[0]);
}

}  // namespace memmap
