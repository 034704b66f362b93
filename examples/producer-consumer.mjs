#!/usr/bin/env node
// A producer process and a consumer process exchanging messages through
// named shared memory: a one-slot mailbox guarded by two 32-bit words, with
// notify() / waitAsync() across the two processes (futex underneath).
// Usage: node examples/producer-consumer.mjs [messages]
import { openShared, unlinkShared } from "memmap";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const SENT = 0; // how many messages the producer has put in the slot
const TAKEN = 1; // how many the consumer has taken out
const LENGTH = 2; // bytes in the slot
const SLOT = 64; // the message bytes start here

if (process.argv[2] === "--consumer") {
  const name = process.argv[3];
  const box = openShared(name, { create: false });
  const words = new Int32Array(box.buffer.buffer, box.buffer.byteOffset, 16);
  let count = 0;
  let chars = 0;
  for (;;) {
    const sent = Atomics.load(words, SENT);
    if (sent === count) {
      await box.waitAsync(SENT, sent, Infinity, { persistent: true }); // sleeps until the producer notifies; persistent: nothing else keeps this process alive
      continue;
    }
    const text = box.buffer.toString("utf8", SLOT, SLOT + Atomics.load(words, LENGTH));
    count++;
    Atomics.store(words, TAKEN, count);
    box.notify(TAKEN);
    if (text === "bye") break;
    chars += text.length;
  }
  console.log(`consumer: ${count - 1} messages, ${chars} characters`);
  box.unmap();
} else {
  const total = Number(process.argv[2] ?? 1000);
  const name = `memmap-example-${process.pid}`;
  const box = openShared(name, { size: 4096, exclusive: true });
  const words = new Int32Array(box.buffer.buffer, box.buffer.byteOffset, 16);
  const consumer = spawn(process.execPath, [fileURLToPath(import.meta.url), "--consumer", name], { stdio: "inherit" });
  const started = performance.now();
  try {
    for (let i = 1; i <= total + 1; i++) {
      const text = i <= total ? `message ${i}` : "bye";
      const n = box.buffer.write(text, SLOT, "utf8");
      Atomics.store(words, LENGTH, n);
      Atomics.store(words, SENT, i);
      box.notify(SENT);
      // Wait for the consumer to take it before reusing the slot.
      for (let taken = Atomics.load(words, TAKEN); taken < i; taken = Atomics.load(words, TAKEN)) {
        await box.waitAsync(TAKEN, taken);
      }
    }
    const code = await new Promise((resolve) => consumer.once("exit", resolve));
    const ms = performance.now() - started;
    console.log(`producer: ${total} messages handed over in ${ms.toFixed(0)} ms (${((ms * 1000) / total).toFixed(1)} µs per round trip); consumer exited ${code}`);
    if (code !== 0) process.exitCode = 1;
  } finally {
    box.unmap();
    unlinkShared(name);
  }
}
