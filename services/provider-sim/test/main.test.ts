/** The real process: PORT=0, the listening line, /health (and the probe aliases), SIGTERM → exit 0. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawnService } from '@solvestream/testkit';

const ENTRY = join(__dirname, '..', 'src', 'main.js');

describe('main.js', () => {
  it('listens on a free port, prints the listening line, serves /health and exits 0 on SIGTERM', async () => {
    const proc = spawnService({ name: 'provider-sim', entry: ENTRY, env: { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', SIM_LATENCY_SCALE: '0.01' } });
    try {
      const line = await proc.waitForLine('"msg":"listening"');
      const { url } = JSON.parse(line) as { url: string };
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(url, 'http://127.0.0.1:0');
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      for (const probe of ['/livez', '/health/ready', '/readyz']) assert.equal((await fetch(url + probe)).status, 200, probe);
      const key = 'c'.repeat(32);
      const submit = await fetch(`${url}/in.php?key=${key}&method=turnstile&sitekey=k&pageurl=u`);
      assert.match(await submit.text(), /^OK\|\d+$/);
      proc.signal('SIGTERM');
      const { code, signal } = await proc.exited();
      assert.deepEqual({ code, signal }, { code: 0, signal: null });
    } finally {
      await proc.stop();
    }
  });

  it('exits 2 with a message naming the variable on bad configuration', async () => {
    const proc = spawnService({ name: 'provider-sim', entry: ENTRY, env: { PORT: '0', SIM_BUSY_CODE: 'NOPE' } });
    const { code } = await proc.exited();
    assert.equal(code, 2);
    assert.ok(proc.lines.some((l) => l.includes('SIM_BUSY_CODE')), proc.lines.join('\n'));
  });
});
