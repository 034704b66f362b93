// The fault guard: makes a file that shrinks under a mapping (or an I/O
// error behind it) a reported event instead of a SIGBUS that kills the
// process. One implementation file per platform (src/platform/guard_posix.cc,
// guard_win.cc).
//
// Ranges are registered after they are mapped and unregistered before they
// are unmapped, so the handler never touches an address memmap gave back.
#pragma once

#include <cstddef>
#include <cstdint>

namespace memmap {
namespace guard {

// Installs the handler once per process (idempotent; thread-safe). Returns
// false where the platform has no guard.
bool Install();

// Takes the signal back if something replaced the handler since (libuv does,
// when JavaScript adds or removes a 'SIGBUS' listener), chaining to what it
// found. `js_listening`: JavaScript has SIGBUS listeners now, so a handler
// found is libuv's, which must not see faults raised by an access (see
// guard_posix.cc). Returns whether memmap's handler is in place.
bool Reassert(bool js_listening);

// Something the handler may wake, from inside the signal handler (it must be
// async-signal-safe to wake: libuv's uv_async_send is).
using Notify = void (*)(void* arg);

// Registers [addr, addr + len). Returns a slot (>= 0), or -1 when the table
// is full. `arg` is passed to `notify` after a fault.
int Add(void* addr, size_t len, Notify notify, void* arg);
// The file behind a slot's range, where the range maps one: its
// descriptor and identity (st_dev, st_ino), and the file offset of the
// range's first byte. With it the handler can tell a page past the file's
// end (the file shrank: everything from there on is gone, and is replaced
// in one step) from a page that failed inside it.
void SetFile(int slot, int fd, uint64_t dev, uint64_t ino, int64_t offset);
// Moves a registered slot to a new range (after mremap).
void Move(int slot, void* addr, size_t len);
void Remove(int slot);
// Stops waking the slot's owner (its notify target is going away).
void Silence(int slot);

// The raw layer changed the protection of pages of the slot's range
// (mprotect): the faults it meant to cause are the caller's, so the guard
// replaces no page of that range from now on (docs/safety.md). For good:
// which pages are protected is not kept.
void SetUserProtected(int slot);
// Pages the handler replaced with zeros in this slot (saturating), and the
// lowest of them.
uint32_t Faults(int slot, uintptr_t* first_page);
// Whether a fault in this slot found the file shorter than the range (a
// truncation, as opposed to pages inside the file that failed).
bool PastEnd(int slot);
// Keeps the guard's spare mappings made (see guard_posix.cc): called on a
// JavaScript thread after the guard woke it. Where the platform needs none,
// nothing.
void Replenish();

}  // namespace guard
}  // namespace memmap
