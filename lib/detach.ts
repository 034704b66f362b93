// Detaching a heap ArrayBuffer from JavaScript, safely.
//
// Node 20 can detach a heap ArrayBuffer only by transferring it
// (structuredClone with a transfer list): its memory moves to the clone. If
// the clone were dropped, the memory would be freed while native code that
// already has the pointer may still be using it (a thread-pool job of Node's
// crypto or fs holds the original ArrayBuffer object, not its memory). So
// the clone is kept for as long as the original object lives: the memory is
// freed when nothing can reach the pointer any more, as for the native
// backend's quarantine.
const kept = new WeakMap<ArrayBuffer, ArrayBuffer>();

/**
 * Detaches the heap ArrayBuffer under `buf` (and every view over it); its
 * memory lives as long as that ArrayBuffer object does.
 */
export function detachHeap(buf: Uint8Array): void {
  const ab = buf.buffer as ArrayBuffer; // memmap's heap Buffers are over plain ArrayBuffers
  if (ab.byteLength === 0) return;
  kept.set(ab, structuredClone(ab, { transfer: [ab] }));
}
