/**
 * WriteBatch's contract without Redis: every caller of a turn gets its own answer, a
 * failed call rejects that turn's callers only, nothing escapes as an uncaught
 * exception. (The worker's and the producer's tests run it against a real Redis.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteBatch } from '../src/write-batch';

test('a failed batch call rejects every caller of that turn with its error; the next turn is a new call', async () => {
  let calls = 0;
  const batch = new WriteBatch(async (inputs: number[]) => {
    calls++;
    if (calls === 1) throw new Error('connection lost');
    return inputs.map((n) => (n < 0 ? new Error(`bad ${n}`) : n * 2));
  });
  const first = await Promise.allSettled([batch.run(1), batch.run(2)]);
  assert.deepEqual(first.map((r) => r.status), ['rejected', 'rejected']);
  assert.match(String((first[0] as PromiseRejectedResult).reason), /connection lost/);
  const second = await Promise.allSettled([batch.run(3), batch.run(-1), batch.run(4)]);
  assert.deepEqual(second.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected')), [6, 'rejected', 8]);
  assert.equal(calls, 2);
  // A send that throws at once rejects its turn (nothing escapes as an uncaught exception).
  const throwing = new WriteBatch((): Promise<number[]> => { throw new Error('thrown at once'); });
  await assert.rejects(throwing.run(1), /thrown at once/);
  // An answer short of its inputs rejects the callers it left out instead of leaving them hanging.
  const short = new WriteBatch(async (inputs: number[]) => inputs.slice(1));
  const r = await Promise.allSettled([short.run(1), short.run(2)]);
  assert.deepEqual(r.map((x) => x.status), ['fulfilled', 'rejected']);
});
