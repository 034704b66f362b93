// The fault guard's slot table (guard_slots.h): lock-free, for handlers
// that may interrupt any code.
#include "guard_slots.h"

#include <atomic>
#include <climits>
#include <cstdint>

namespace memmap {
namespace guard {
namespace {

constexpr int kSlots = 1 << 18;  // more than vm.max_map_count's default

struct Slot {
  std::atomic<uintptr_t> start{0};  // 0: free
  std::atomic<uintptr_t> end{0};
  std::atomic<uint32_t> faults{0};
  std::atomic<uintptr_t> first_page{0};
  std::atomic<Notify> notify{nullptr};
  std::atomic<void*> arg{nullptr};
  std::atomic<bool> used{false};  // claimed (start may still be 0 while being filled)
  // The file behind the range (SetFile): its descriptor + 1, 0 for none (a
  // table that starts all zero stays out of the library's data section).
  std::atomic<int> fd_plus_one{0};
  std::atomic<uint32_t> singles{0};  // faults inside the file answered with one page
  std::atomic<bool> past_end{false};  // a fault found the file shorter than the range
  std::atomic<bool> user_protected{false};  // the raw layer's mprotect() changed pages of it
  std::atomic<uint64_t> dev{0};
  std::atomic<uint64_t> ino{0};
  std::atomic<int64_t> offset{0};
};

Slot g_slots[kSlots];
std::atomic<int> g_high{0};  // slots [0, g_high) may be in use
std::atomic<int> g_hint{0};
}  // namespace

int Find(uintptr_t addr) {
  int high = g_high.load(std::memory_order_acquire);
  for (int i = 0; i < high; i++) {
    uintptr_t s = g_slots[i].start.load(std::memory_order_acquire);
    if (s != 0 && addr >= s && addr < g_slots[i].end.load(std::memory_order_acquire)) return i;
  }
  return -1;
}

void RangeOf(int slot, uintptr_t* start, uintptr_t* end) {
  *start = g_slots[slot].start.load(std::memory_order_acquire);
  *end = g_slots[slot].end.load(std::memory_order_acquire);
}

void Record(int slot, uintptr_t page, uint32_t pages, bool past_end) {
  Slot& s = g_slots[slot];
  if (past_end) s.past_end.store(true, std::memory_order_release);
  uint32_t count = s.faults.load(std::memory_order_acquire);
  while (!s.faults.compare_exchange_weak(count, count > UINT32_MAX - pages ? UINT32_MAX : count + pages,
                                         std::memory_order_acq_rel)) {
  }
  // The lowest page replaced so far (0: none yet).
  uintptr_t first = s.first_page.load(std::memory_order_acquire);
  while ((first == 0 || page < first) && !s.first_page.compare_exchange_weak(first, page, std::memory_order_acq_rel)) {
  }
  Notify n = s.notify.load(std::memory_order_acquire);
  if (n != nullptr) n(s.arg.load(std::memory_order_acquire));
}

bool AnySlots() { return g_high.load(std::memory_order_acquire) > 0; }

int AddSlot(void* addr, size_t len, Notify notify, void* arg) {
  if (addr == nullptr || len == 0) return -1;
  int hint = g_hint.load(std::memory_order_relaxed);
  for (int n = 0; n < kSlots; n++) {
    int i = (hint + n) % kSlots;
    bool expected = false;
    if (!g_slots[i].used.compare_exchange_strong(expected, true)) continue;
    Slot& s = g_slots[i];
    s.faults.store(0, std::memory_order_relaxed);
    s.first_page.store(0, std::memory_order_relaxed);
    s.notify.store(notify, std::memory_order_relaxed);
    s.fd_plus_one.store(0, std::memory_order_relaxed);
    s.singles.store(0, std::memory_order_relaxed);
    s.past_end.store(false, std::memory_order_relaxed);
    s.user_protected.store(false, std::memory_order_relaxed);
    s.arg.store(arg, std::memory_order_relaxed);
    s.end.store(reinterpret_cast<uintptr_t>(addr) + len, std::memory_order_release);
    s.start.store(reinterpret_cast<uintptr_t>(addr), std::memory_order_release);
    int high = g_high.load(std::memory_order_acquire);
    while (high < i + 1 && !g_high.compare_exchange_weak(high, i + 1)) {
    }
    g_hint.store((i + 1) % kSlots, std::memory_order_relaxed);
    return i;
  }
  return -1;
}

void SetFile(int slot, int fd, uint64_t dev, uint64_t ino, int64_t offset) {
  if (slot < 0) return;
  Slot& s = g_slots[slot];
  s.fd_plus_one.store(0, std::memory_order_release);  // never half of one and half of another
  s.dev.store(dev, std::memory_order_relaxed);
  s.ino.store(ino, std::memory_order_relaxed);
  s.offset.store(offset, std::memory_order_relaxed);
  s.fd_plus_one.store(fd >= 0 ? fd + 1 : 0, std::memory_order_release);
}

bool TakeSinglePage(int slot) { return g_slots[slot].singles.fetch_add(1, std::memory_order_acq_rel) < kSinglePages; }

bool FileOf(int slot, int* fd, uint64_t* dev, uint64_t* ino, int64_t* offset) {
  Slot& s = g_slots[slot];
  *fd = s.fd_plus_one.load(std::memory_order_acquire) - 1;
  if (*fd < 0) return false;
  *dev = s.dev.load(std::memory_order_relaxed);
  *ino = s.ino.load(std::memory_order_relaxed);
  *offset = s.offset.load(std::memory_order_relaxed);
  return true;
}

void Move(int slot, void* addr, size_t len) {
  if (slot < 0) return;
  Slot& s = g_slots[slot];
  s.start.store(0, std::memory_order_release);
  s.end.store(reinterpret_cast<uintptr_t>(addr) + len, std::memory_order_release);
  s.start.store(reinterpret_cast<uintptr_t>(addr), std::memory_order_release);
}

void Remove(int slot) {
  if (slot < 0) return;
  Slot& s = g_slots[slot];
  s.start.store(0, std::memory_order_release);
  s.notify.store(nullptr, std::memory_order_release);
  s.fd_plus_one.store(0, std::memory_order_release);
  s.used.store(false, std::memory_order_release);
  g_hint.store(slot, std::memory_order_relaxed);
}

void Silence(int slot) {
  if (slot >= 0) g_slots[slot].notify.store(nullptr, std::memory_order_release);
}

void SetUserProtected(int slot) {
  if (slot >= 0) g_slots[slot].user_protected.store(true, std::memory_order_release);
}

bool UserProtected(int slot) { return g_slots[slot].user_protected.load(std::memory_order_acquire); }

bool PastEnd(int slot) { return slot >= 0 && g_slots[slot].past_end.load(std::memory_order_acquire); }

uint32_t Faults(int slot, uintptr_t* first_page) {
  if (slot < 0) return 0;
  if (first_page) *first_page = g_slots[slot].first_page.load(std::memory_order_acquire);
  return g_slots[slot].faults.load(std::memory_order_acquire);
}

}  // namespace guard
}  // namespace memmap
