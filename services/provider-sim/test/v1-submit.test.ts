/**
 * `in.php`: every method, every body encoding clients use, plain and JSON answers,
 * loose values, `header_acao`, and the submit-time error codes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getQ, http, image, newKey, postForm, postJson, startSim, type TestSim } from './helpers';

describe('in.php submit', () => {
  let t: TestSim;
  const key = newKey();
  before(async () => (t = await startSim({ maxImageBytes: 600 * 1024 })));
  after(() => t.close());

  const lastTask = () => {
    const all = [...t.sim.state.tasks.all()];
    return all[all.length - 1]!;
  };

  it('accepts reCAPTCHA v2 by GET and answers OK|<numeric id> in plain text', async () => {
    const a = await getQ(t.url, '/in.php', { key, method: 'userrecaptcha', googlekey: 'site-key-1', pageurl: 'https://e.com/a' });
    assert.equal(a.status, 200);
    const m = /^OK\|(\d+)$/.exec(a.text);
    assert.ok(m, a.text);
    const id = Number(m[1]);
    assert.ok(Number.isSafeInteger(id) && id < 2 ** 53);
    assert.equal(lastTask().spec.kind, 'recaptcha_v2');
    assert.equal(lastTask().spec.sitekey, 'site-key-1');
  });

  it('answers JSON with the id as a string when json=1', async () => {
    const a = await getQ(t.url, '/in.php', { key, method: 'userrecaptcha', googlekey: 'k', pageurl: 'https://e.com', json: 1 });
    const body = JSON.parse(a.text);
    assert.equal(body.status, 1);
    assert.match(body.request, /^\d+$/);
    assert.match(a.headers.get('content-type') ?? '', /application\/json/);
  });

  it('reads v3, enterprise and invisible flags loosely', async () => {
    await getQ(t.url, '/in.php', { key, method: 'userrecaptcha', version: 'v3', action: 'login', min_score: '0.7', googlekey: 'k3', pageurl: 'https://e.com', enterprise: 1 });
    let spec = lastTask().spec;
    assert.deepEqual([spec.kind, spec.action, spec.minScore, spec.enterprise], ['recaptcha_v3', 'login', 0.7, true]);
    await getQ(t.url, '/in.php', { key, method: 'userrecaptcha', googlekey: 'k', pageurl: 'https://e.com', invisible: 'false' });
    assert.equal(lastTask().spec.invisible, false, 'invisible=false is off');
    await getQ(t.url, '/in.php', { key, method: 'userrecaptcha', googlekey: 'k', pageurl: 'https://e.com', invisible: '1' });
    assert.equal(lastTask().spec.invisible, true);
    await getQ(t.url, '/in.php', { key, method: 'userrecaptcha', version: 'v3', sitekey: 'k-alias', pageurl: 'https://e.com' });
    spec = lastTask().spec;
    assert.deepEqual([spec.sitekey, spec.action, spec.minScore], ['k-alias', 'verify', 0.4], 'sitekey alias and v3 defaults');
  });

  it('accepts hCaptcha and Turnstile as a form POST', async () => {
    for (const method of ['hcaptcha', 'turnstile'] as const) {
      const a = await postForm(t.url, '/in.php', { key, method, sitekey: `${method}-key`, pageurl: 'https://e.com/x' });
      assert.match(a.text, /^OK\|\d+$/);
      assert.equal(lastTask().spec.kind, method);
    }
  });

  it('accepts an application/json body with numeric json=1', async () => {
    const a = await postJson(t.url, '/in.php', { key, method: 'base64', body: image().toString('base64'), json: 1, soft_id: 4587, header_acao: 1 });
    assert.equal(JSON.parse(a.text).status, 1);
    assert.equal(a.headers.get('access-control-allow-origin'), '*');
    assert.equal(lastTask().spec.kind, 'image');
  });

  it('accepts a JSON body sent as text/plain mixed with query params', async () => {
    const qs = new URLSearchParams({ key, method: 'base64', json: '1' });
    const a = await http(`${t.url}/in.php?${qs}`, { method: 'POST', body: JSON.stringify({ body: image(300).toString('base64') }) });
    assert.equal(JSON.parse(a.text).status, 1, a.text);
    assert.equal(lastTask().spec.image?.bytes, 300);
  });

  it('accepts method=post with a multipart file', async () => {
    const form = new FormData();
    form.set('key', key);
    form.set('method', 'post');
    form.set('numeric', '1');
    form.set('file', new Blob([image(1500)]), 'captcha.png');
    const a = await http(`${t.url}/in.php`, { method: 'POST', body: form });
    assert.match(a.text, /^OK\|\d+$/);
    assert.equal(lastTask().spec.image?.bytes, 1500);
    assert.equal(lastTask().spec.image?.numeric, 1);
  });

  it('does not send Access-Control-Allow-Origin unless header_acao is set', async () => {
    const a = await getQ(t.url, '/in.php', { key, method: 'turnstile', sitekey: 'k', pageurl: 'https://e.com', header_acao: 0 });
    assert.equal(a.headers.get('access-control-allow-origin'), null);
  });

  describe('errors (HTTP 200, code in the body, error_text in JSON)', () => {
    const cases: [string, Record<string, string | number>, string][] = [
      ['malformed key', { key: 'short', method: 'userrecaptcha', googlekey: 'k', pageurl: 'u' }, 'ERROR_WRONG_USER_KEY'],
      ['missing key', { method: 'userrecaptcha', googlekey: 'k', pageurl: 'u' }, 'ERROR_WRONG_USER_KEY'],
      ['missing googlekey', { key, method: 'userrecaptcha', pageurl: 'u' }, 'ERROR_WRONG_GOOGLEKEY'],
      ['blank googlekey', { key, method: 'userrecaptcha', googlekey: '  ', pageurl: 'u' }, 'ERROR_GOOGLEKEY'],
      ['missing pageurl', { key, method: 'userrecaptcha', googlekey: 'k' }, 'ERROR_PAGEURL'],
      ['missing hcaptcha sitekey', { key, method: 'hcaptcha', pageurl: 'u' }, 'ERROR_WRONG_GOOGLEKEY'],
      ['missing turnstile pageurl', { key, method: 'turnstile', sitekey: 'k' }, 'ERROR_PAGEURL'],
      ['missing method', { key, googlekey: 'k', pageurl: 'u' }, 'ERROR_BAD_PARAMETERS'],
      ['unknown method', { key, method: 'nonsense' }, 'ERROR_BAD_PARAMETERS'],
      ['bad proxy', { key, method: 'userrecaptcha', googlekey: 'k', pageurl: 'u', proxy: 'not a proxy' }, 'ERROR_PROXY_FORMAT'],
      ['tiny image', { key, method: 'base64', body: image(99).toString('base64') }, 'ERROR_ZERO_CAPTCHA_FILESIZE'],
      ['empty image', { key, method: 'base64' }, 'ERROR_ZERO_CAPTCHA_FILESIZE'],
      ['bad base64', { key, method: 'base64', body: 'data:image/png;base64,iVBOR' }, 'ERROR_UPLOAD'],
    ];
    for (const [what, params, code] of cases) {
      it(`${what} → ${code}`, async () => {
        const plain = await postForm(t.url, '/in.php', params);
        assert.equal(plain.status, 200);
        assert.equal(plain.text, code);
        const json = JSON.parse((await postForm(t.url, '/in.php', { ...params, json: 1 })).text);
        assert.equal(json.status, 0);
        assert.equal(json.request, code);
        assert.equal(typeof json.error_text, 'string');
        assert.ok(json.error_text.length > 0);
      });
    }

    it('an image over the limit → ERROR_TOO_BIG_CAPTCHA_FILESIZE (base64 and multipart)', async () => {
      const big = image(700 * 1024);
      const a = await postJson(t.url, '/in.php', { key, method: 'base64', body: big.toString('base64') });
      assert.equal(a.text, 'ERROR_TOO_BIG_CAPTCHA_FILESIZE');
      const form = new FormData();
      form.set('key', key);
      form.set('method', 'post');
      form.set('file', new Blob([big]), 'big.png');
      const b = await http(`${t.url}/in.php`, { method: 'POST', body: form });
      assert.equal(b.text, 'ERROR_TOO_BIG_CAPTCHA_FILESIZE');
    });

    it('a multipart submit without a file → ERROR_ZERO_CAPTCHA_FILESIZE', async () => {
      const form = new FormData();
      form.set('key', key);
      form.set('method', 'post');
      const a = await http(`${t.url}/in.php`, { method: 'POST', body: form });
      assert.equal(a.text, 'ERROR_ZERO_CAPTCHA_FILESIZE');
    });
  });

  it('answers ERROR_KEY_DOES_NOT_EXIST for an unknown key when auto accounts are off', async () => {
    const known = newKey();
    const strict = await startSim({ autoAccounts: false, accounts: [{ key: known, balance: 5, threads: 1 }] });
    try {
      const a = await getQ(strict.url, '/in.php', { key: newKey(), method: 'userrecaptcha', googlekey: 'k', pageurl: 'u' });
      assert.equal(a.text, 'ERROR_KEY_DOES_NOT_EXIST');
      const b = await getQ(strict.url, '/in.php', { key: known, method: 'userrecaptcha', googlekey: 'k', pageurl: 'u' });
      assert.match(b.text, /^OK\|\d+$/);
    } finally {
      await strict.close();
    }
  });
});
