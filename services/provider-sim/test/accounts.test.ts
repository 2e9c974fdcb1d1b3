/**
 * Accounts: a solve is charged once however often it is polled; threads are held
 * from submit to solve and a full account answers the busy code; zero balance,
 * seeded accounts and the admin account endpoint.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { admin, api, fakeClock, getQ, newKey, startSim, submitV2 } from './helpers';

const LATENCY = { minMs: 1000, maxMs: 1000 };

describe('accounts', () => {
  it('charges each solved task exactly once, however often and however it is polled', async () => {
    const clock = fakeClock();
    const t = await startSim({ now: clock.now, latency: { recaptcha_v2: LATENCY } });
    try {
      const key = newKey();
      const ids = [await submitV2(t.url, key), await submitV2(t.url, key), await submitV2(t.url, key)];
      clock.advance(1000);
      for (let i = 0; i < 5; i++) {
        await getQ(t.url, '/res.php', { key, action: 'get', id: ids[0]! });
        await getQ(t.url, '/res.php', { key, action: 'get2', id: ids[1]! });
        await getQ(t.url, '/res.php', { key, action: 'get', ids: ids.join(',') });
        await api(t.url, 'getTaskResult', { clientKey: key, taskId: Number(ids[2]) });
      }
      assert.equal((await getQ(t.url, '/res.php', { key, action: 'getbalance' })).text, '999.99103');
      const stats = await admin<{ charges: number; chargedAmount: number }>(t.url, `/admin/stats/${key}`);
      assert.equal(stats.charges, 3);
      assert.equal(stats.chargedAmount, 0.00897);
    } finally {
      await t.close();
    }
  });

  it('charges per kind with configured prices, and charges even if nobody polls', async () => {
    const clock = fakeClock();
    const t = await startSim({ now: clock.now, latency: { turnstile: LATENCY }, prices: { turnstile: 0.5 } });
    try {
      const key = newKey();
      await getQ(t.url, '/in.php', { key, method: 'turnstile', sitekey: 'k', pageurl: 'u' });
      clock.advance(1000);
      assert.equal((await getQ(t.url, '/res.php', { key, action: 'getbalance' })).text, '999.5');
    } finally {
      await t.close();
    }
  });

  for (const busyCode of ['ERROR_NO_SLOT_AVAILABLE', 'ERROR_ZERO_BALANCE'] as const) {
    it(`holds a thread per task until solved; a full account answers ${busyCode}`, async () => {
      const clock = fakeClock();
      const key = newKey();
      const t = await startSim({ now: clock.now, busyCode, accounts: [{ key, balance: 10, threads: 2 }], latency: { recaptcha_v2: LATENCY } });
      try {
        await submitV2(t.url, key);
        clock.advance(500);
        await submitV2(t.url, key);
        const busy = await getQ(t.url, '/in.php', { key, method: 'userrecaptcha', googlekey: 'k', pageurl: 'u' });
        assert.equal(busy.text, busyCode);
        const json = await api(t.url, 'createTask', { clientKey: key, task: { type: 'RecaptchaV2TaskProxyless', websiteURL: 'u', websiteKey: 'k' } });
        assert.equal(json.errorCode, busyCode);
        assert.equal(json.errorId, busyCode === 'ERROR_NO_SLOT_AVAILABLE' ? 2 : 10);
        const view = await admin<{ busyThreads: number; freeThreads: number }>(t.url, `/admin/accounts/${key}`);
        assert.deepEqual([view.busyThreads, view.freeThreads], [2, 0]);
        clock.advance(500); // the first task is solved: one thread free again
        await submitV2(t.url, key);
        assert.equal((await getQ(t.url, '/in.php', { key, method: 'userrecaptcha', googlekey: 'k', pageurl: 'u' })).text, busyCode);
      } finally {
        await t.close();
      }
    });
  }

  it('answers ERROR_ZERO_BALANCE when the balance cannot pay for the kind', async () => {
    const key = newKey();
    const t = await startSim({ accounts: [{ key, balance: 0.001, threads: 10 }] });
    try {
      assert.equal((await getQ(t.url, '/in.php', { key, method: 'userrecaptcha', googlekey: 'k', pageurl: 'u' })).text, 'ERROR_ZERO_BALANCE');
      // An image (0.0007) is still affordable.
      const body = Buffer.alloc(200, 1).toString('base64');
      assert.match((await getQ(t.url, '/in.php', { key, method: 'base64', body })).text, /^OK\|/);
      assert.equal((await getQ(t.url, '/res.php', { key, action: 'getbalance' })).text, '0.001');
    } finally {
      await t.close();
    }
  });

  it('admin PUT /admin/accounts/:key sets balance and threads (and validates them)', async () => {
    const t = await startSim({ autoAccounts: false });
    try {
      const key = newKey();
      assert.equal((await getQ(t.url, '/res.php', { key, action: 'getbalance' })).text, 'ERROR_KEY_DOES_NOT_EXIST');
      const view = await admin(t.url, `/admin/accounts/${key}`, { method: 'PUT', body: JSON.stringify({ balance: 12.3456, threads: 3 }) });
      assert.deepEqual(view, { key, balance: 12.3456, threads: 3, busyThreads: 0, freeThreads: 3 });
      assert.equal((await getQ(t.url, '/res.php', { key, action: 'getbalance' })).text, '12.3456');
      await admin(t.url, `/admin/accounts/${key}`, { method: 'PUT', body: JSON.stringify({ balance: 0 }) });
      assert.equal((await getQ(t.url, '/in.php', { key, method: 'turnstile', sitekey: 'k', pageurl: 'u' })).text, 'ERROR_ZERO_BALANCE');
      const bad = await fetch(`${t.url}/admin/accounts/${key}`, { method: 'PUT', body: JSON.stringify({ threads: 1.5 }) });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: string }).error, /threads/);
      const badKey = await fetch(`${t.url}/admin/accounts/short`, { method: 'PUT', body: '{}' });
      assert.equal(badKey.status, 400);
      const list = await admin<unknown[]>(t.url, '/admin/accounts');
      assert.equal(list.length, 1);
    } finally {
      await t.close();
    }
  });

  it('a key rotation keeps the account and its tasks; the revoked key stops working, auto accounts never recreate it', async () => {
    const clock = fakeClock();
    const t = await startSim({ now: clock.now, latency: { recaptcha_v2: LATENCY } });
    try {
      const oldKey = newKey();
      const next = newKey();
      const id = await submitV2(t.url, oldKey);
      // Both keys work until the old one is revoked.
      await admin(t.url, `/admin/accounts/${oldKey}/rotate`, { method: 'POST', body: JSON.stringify({ newKey: next }) });
      assert.match((await getQ(t.url, '/res.php', { key: next, action: 'get', id })).text, /CAPCHA_NOT_READY/);
      assert.match((await getQ(t.url, '/res.php', { key: oldKey, action: 'get', id })).text, /CAPCHA_NOT_READY/);
      const third = newKey();
      const view = await admin<{ key: string }>(t.url, `/admin/accounts/${next}/rotate`, { method: 'POST', body: JSON.stringify({ newKey: third, revokeOld: true }) });
      assert.equal(view.key, oldKey, 'the account keeps its identity');
      clock.advance(1000);
      assert.match((await getQ(t.url, '/res.php', { key: third, action: 'get', id })).text, /^OK\|/, 'the task submitted with the first key is read with the newest');
      assert.equal((await getQ(t.url, '/res.php', { key: next, action: 'getbalance' })).text, 'ERROR_KEY_DOES_NOT_EXIST', 'revoked');
      assert.equal((await getQ(t.url, '/res.php', { key: third, action: 'getbalance' })).text, '999.99701', 'one balance, charged once');
      assert.equal((await admin<unknown[]>(t.url, '/admin/accounts')).length, 1, 'still one account');
      const bad = await fetch(`${t.url}/admin/accounts/${third}/rotate`, { method: 'POST', body: JSON.stringify({ newKey: 'short' }) });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: string }).error, /newKey/);
      assert.equal((await fetch(`${t.url}/admin/accounts/${newKey()}/rotate`, { method: 'POST', body: JSON.stringify({ newKey: newKey() }) })).status, 404);
    } finally {
      await t.close();
    }
  });
});
