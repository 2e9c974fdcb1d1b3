/**
 * Circuit breaker transitions, driven by an injected clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker, type BreakerTransition, type Permit } from '../src/provider/breaker';

function setup(o: { failureThreshold?: number; resetTimeoutMs?: number; halfOpenMaxTrials?: number; successThreshold?: number } = {}) {
  let now = 1_000_000;
  const b = new CircuitBreaker('p', { failureThreshold: 3, resetTimeoutMs: 10_000, halfOpenMaxTrials: 2, successThreshold: 2, ...o, clock: () => now });
  const seen: BreakerTransition[] = [];
  b.onTransition((t) => seen.push(t));
  const advance = (ms: number): void => {
    now += ms;
  };
  const fail = (n = 1): void => {
    for (let i = 0; i < n; i++) b.record(b.acquire() as Permit, 'failure');
  };
  return { b, seen, advance, fail, now: () => now };
}

test('closed → open after N consecutive failures; a success in between resets the count', () => {
  const { b, seen, fail } = setup();
  fail(2);
  b.record(b.acquire() as Permit, 'success');
  fail(2);
  assert.equal(b.state, 'closed');
  assert.equal(seen.length, 0);
  fail(1);
  assert.equal(b.state, 'open');
  assert.equal(b.acquire(), undefined, 'an open breaker lets nothing through');
  assert.equal(b.available, false);
  assert.deepEqual(seen.map((t) => [t.from, t.to, t.reason, t.failures]), [['closed', 'open', 'failures', 3]]);
});

test('neutral outcomes (permanent task errors) neither open the breaker nor reset the count', () => {
  const { b, fail } = setup();
  fail(2);
  for (let i = 0; i < 10; i++) b.record(b.acquire() as Permit, 'neutral');
  assert.equal(b.state, 'closed');
  fail(1);
  assert.equal(b.state, 'open', 'the two failures before the neutral ones still counted');
});

test('open → half-open after the reset timeout, read lazily from the clock', () => {
  const { b, seen, fail, advance, now } = setup();
  fail(3);
  assert.equal(b.retryAt, now() + 10_000);
  advance(9_999);
  assert.equal(b.state, 'open');
  advance(1);
  assert.equal(b.state, 'half-open');
  assert.equal(b.retryAt, undefined);
  assert.deepEqual(seen.map((t) => t.to), ['open', 'half-open']);
  assert.equal(seen[1]?.reason, 'reset-timeout');
});

test('half-open: a limited number of trials at once; M successes close the breaker', () => {
  const { b, seen, fail, advance } = setup();
  fail(3);
  advance(10_000);
  const t1 = b.acquire();
  const t2 = b.acquire();
  assert.ok(t1?.trial && t2?.trial);
  assert.equal(b.acquire(), undefined, 'only halfOpenMaxTrials trials at once');
  assert.equal(b.available, false);
  b.record(t1, 'success');
  assert.equal(b.state, 'half-open', 'one success of two');
  const t3 = b.acquire();
  assert.ok(t3, 'a finished trial frees its slot');
  b.record(t2, 'neutral');
  assert.equal(b.state, 'half-open', 'a neutral trial neither closes nor opens');
  b.record(t3, 'success');
  assert.equal(b.state, 'closed');
  assert.deepEqual(seen.map((t) => `${t.from}>${t.to}:${t.reason}`), ['closed>open:failures', 'open>half-open:reset-timeout', 'half-open>closed:trials-succeeded']);
  assert.ok(b.acquire() && b.acquire() && b.acquire(), 'closed: no limit');
  fail(2);
  assert.equal(b.state, 'closed', 'the failure count started again from zero');
});

test('half-open: a failed trial opens the breaker again and restarts the timeout', () => {
  const { b, seen, fail, advance } = setup();
  fail(3);
  advance(10_000);
  const trial = b.acquire() as Permit;
  advance(500);
  b.record(trial, 'failure');
  assert.equal(b.state, 'open');
  advance(9_999);
  assert.equal(b.state, 'open', 'the timeout counts from the reopening');
  advance(1);
  assert.equal(b.state, 'half-open');
  assert.deepEqual(seen.map((t) => t.reason), ['failures', 'reset-timeout', 'trial-failed', 'reset-timeout']);
});

test('stale outcomes from before a transition do not count', () => {
  const { b, fail, advance } = setup({ failureThreshold: 2 });
  const slow = b.acquire() as Permit; // a request sent while closed…
  fail(2); // …the breaker opens meanwhile…
  advance(10_000);
  assert.equal(b.state, 'half-open');
  b.record(slow, 'success'); // …and its late success must not count as a trial
  b.record(slow, 'failure');
  assert.equal(b.state, 'half-open');
  assert.deepEqual(b.snapshot(), { state: 'half-open', failures: 2, trials: 0, successes: 0 });
});

test('force() and a throwing listener', () => {
  const { b, seen } = setup();
  b.onTransition(() => {
    throw new Error('listener bug');
  });
  b.force('open');
  assert.equal(b.state, 'open');
  b.force('closed');
  assert.equal(b.state, 'closed');
  assert.deepEqual(seen.map((t) => t.reason), ['forced', 'forced']);
});
