/**
 * Solve times: per-kind ranges, scale, env overrides and seed reproducibility.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LATENCY } from '../src/kinds';
import { LatencyModel } from '../src/latency';
import { stream } from '../src/rng';
import { parseEnv } from '../src/index';
import { newKey, startSim, submitV2 } from './helpers';

const samples = (m: LatencyModel, n: number) => Array.from({ length: n }, () => m.sample('recaptcha_v2'));

describe('latency', () => {
  it('defaults follow the reference ranges, skewed fast with a tail (v2 median near 30 s)', () => {
    const m = new LatencyModel(DEFAULT_LATENCY, 1, stream('seed', 'latency'));
    const s = samples(m, 4000).sort((a, b) => a - b);
    assert.ok(s[0]! >= 15_000 && s[s.length - 1]! <= 60_000);
    const median = s[2000]!;
    assert.ok(median > 25_000 && median < 35_000, `median ${median}`);
    assert.ok(s[3960]! > 55_000, 'a tail reaches towards the max');
    const image = Array.from({ length: 500 }, () => m.sample('image'));
    assert.ok(image.every((v) => v >= 500 && v <= 5000));
  });

  it('the same seed gives the same sequence; another seed does not', () => {
    const a = samples(new LatencyModel(DEFAULT_LATENCY, 1, stream('s1', 'latency')), 20);
    const b = samples(new LatencyModel(DEFAULT_LATENCY, 1, stream('s1', 'latency')), 20);
    const c = samples(new LatencyModel(DEFAULT_LATENCY, 1, stream('s2', 'latency')), 20);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('SIM_LATENCY_<TYPE>_MS and SIM_LATENCY_SCALE set the range of real tasks, reproducibly under SIM_SEED', async () => {
    const env = { SIM_LATENCY_RECAPTCHA_V2_MS: '200-400', SIM_LATENCY_SCALE: '0.5', SIM_SEED: 'fixed', SIM_UNSOLVABLE_RATE: '0' };
    const { options } = parseEnv(env);
    assert.deepEqual(options.latency, { recaptcha_v2: { minMs: 200, maxMs: 400 } });
    const run = async (): Promise<number[]> => {
      const t = await startSim({ ...options, logger: false });
      try {
        const key = newKey();
        for (let i = 0; i < 30; i++) await submitV2(t.url, key);
        return [...t.sim.state.tasks.all()].map((task) => task.readyAt - task.submittedAt);
      } finally {
        await t.close();
      }
    };
    const first = await run();
    assert.ok(first.every((ms) => ms >= 100 && ms <= 200), `all within 100..200 ms: ${first.join(',')}`);
    assert.ok(new Set(first).size > 20, 'spread, not a constant');
    assert.deepEqual(await run(), first, 'same seed, same latencies');
  });

  it('tasks become ready in real time after their latency', async () => {
    const t = await startSim({ latency: { recaptcha_v2: { minMs: 300, maxMs: 300 } } });
    try {
      const key = newKey();
      const id = await submitV2(t.url, key);
      const res = () => fetch(`${t.url}/res.php?key=${key}&action=get&id=${id}`).then((r) => r.text());
      assert.equal(await res(), 'CAPCHA_NOT_READY');
      await new Promise((r) => setTimeout(r, 350));
      assert.match(await res(), /^OK\|03A/);
    } finally {
      await t.close();
    }
  });
});
