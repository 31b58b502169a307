/** `serve` gives memory back once a busy spell is over (cli/settle.ts), and leaves a process alone that was not busy. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Settled, settleWhenIdle } from '../../../src/cli/settle.ts';
import { loadLibc } from '../../../src/net/libc.ts';

const TICK = 200;

/** Keeps the event loop busy for `ms`, in slices so the ticks still run. */
async function busy(ms: number): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(0)) {
    const until = Date.now() + 20;
    while (Date.now() < until) Math.sqrt(Math.random());
  }
}

test('after a busy spell that grew the heap, one full GC and malloc_trim when the loop goes idle', async () => {
  const settled: Settled[] = [];
  const stop = settleWhenIdle(await loadLibc(), (s) => settled.push(s), TICK);
  try {
    // Control: growth without a busy spell is not acted on. The 32 MB come in small slices with pauses, so the loop
    // stays below busy (one slice took 100 ms on a fresh VM: page faults).
    let garbage: Buffer[] | undefined = [];
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < 100; j++) garbage.push(Buffer.allocUnsafeSlow(8192).fill(1));
      await sleep(TICK / 4);
    }
    garbage = undefined;
    await sleep(3 * TICK);
    assert.equal(settled.length, 0, 'idle all along: nothing to settle');
    // A burst: 40 MB of C heap in small buffers, all dead by the end, and a busy loop.
    garbage = Array.from({ length: 5000 }, () => Buffer.allocUnsafeSlow(8192).fill(2));
    await busy(3 * TICK);
    assert.ok(garbage.length);
    garbage = undefined;
    for (let i = 0; i < 20 && !settled.length; i++) await sleep(TICK);
    assert.equal(settled.length, 1, 'settled once after the spell');
    const s = settled[0]!;
    assert.ok(s.after < s.before - 4 * 2 ** 20, `RSS ${s.before >> 20} → ${s.after >> 20} MB`);
    // And not again while nothing happens.
    await sleep(4 * TICK);
    assert.equal(settled.length, 1);
  } finally {
    stop();
  }
});
