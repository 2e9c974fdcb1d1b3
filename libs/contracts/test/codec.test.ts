import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeEventEntry,
  decodeResultEntry,
  decodeTaskEntry,
  encodeResultEntry,
  encodeTaskEntry,
  keyspace,
  parseTaskSpec,
  ValidationError,
  type TaskEntry,
} from '../src';

const entry: TaskEntry = {
  taskId: 'T1',
  type: 'recaptcha_v2',
  params: { websiteURL: 'https://example.com/login', websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-' },
  tenant: 'acme',
  priority: 'high',
  attempt: 2,
  submittedAt: 1_700_000_000_000,
  deadline: 1_700_000_300_000,
  checkpoint: { provider: 'captchaai', providerTaskId: '123456', at: 1_700_000_001_000 },
  trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
};

test('task entry round-trips through encode/decode', () => {
  const decoded = decodeTaskEntry(encodeTaskEntry(entry));
  assert.deepEqual(decoded, { ok: true, value: entry });
});

test('decodeTaskEntry reports garbage without throwing, naming the field', () => {
  const cases: [string[], RegExp][] = [
    [[], /^v: unsupported entry version null/],
    [['v', '1', 'task', 'x'], /priority: is missing/],
    [['garbage'], /unsupported entry version/],
    [[...encodeTaskEntry(entry).slice(0, -2), 'params', '{not json'], /params: is not valid JSON/],
    [encodeTaskEntry({ ...entry, type: 'funcaptcha' as never }), /type: unknown task type "funcaptcha"/],
    [encodeTaskEntry({ ...entry, attempt: 0 }), /attempt: is not an integer >= 1/],
    [encodeTaskEntry({ ...entry, params: { websiteURL: 'ftp://x', websiteKey: 'k' } }), /params.websiteURL/],
  ];
  for (const [fields, re] of cases) {
    const d = decodeTaskEntry(fields);
    assert.equal(d.ok, false, `expected failure for ${JSON.stringify(fields).slice(0, 80)}`);
    if (!d.ok) assert.match(d.reason, re);
  }
});

test('result entry round-trips; bad outcome is reported', () => {
  const r = {
    taskId: 'T1', outcome: 'solved' as const, tenant: 'acme', type: 'turnstile' as const, attempt: 1,
    completedAt: 5, solution: { token: '0.abc', userAgent: 'UA' }, provider: 'sim', providerTaskId: '9', trace: {},
  };
  assert.deepEqual(decodeResultEntry(encodeResultEntry(r)), { ok: true, value: { ...r, errorCode: undefined, errorMessage: undefined } });
  const bad = decodeResultEntry(['v', '1', 'task', 'x', 'outcome', 'maybe']);
  assert.equal(bad.ok, false);
});

test('event entries decode and unknown events are rejected', () => {
  const ok = decodeEventEntry('1-0', ['v', '1', 'task', 'T', 'event', 'claimed', 'at', '7', 'consumer', 'w1']);
  assert.deepEqual(ok, { ok: true, value: { id: '1-0', taskId: 'T', event: 'claimed', at: 7, data: { consumer: 'w1' } } });
  assert.equal(decodeEventEntry('1-0', ['v', '1', 'task', 'T', 'event', 'exploded', 'at', '7']).ok, false);
});

test('parseTaskSpec names the offending field', () => {
  const bad: [unknown, unknown, RegExp][] = [
    [undefined, {}, /^type: is required/],
    ['captcha9000', {}, /^type: unknown task type "captcha9000"; expected one of recaptcha_v2/],
    ['recaptcha_v2', 'x', /^params: must be an object/],
    ['recaptcha_v2', { websiteKey: 'k' }, /^params.websiteURL: /],
    ['recaptcha_v2', { websiteURL: 'https://a.b', websiteKey: 'k', websiteUrl: 'typo' }, /^params.websiteUrl: unknown field/],
    ['recaptcha_v3', { websiteURL: 'https://a.b', websiteKey: 'k', minScore: 2 }, /^params.minScore: /],
    ['image', { body: 'data:image/png;base64,AAAA' }, /^params.body: must be plain base64/],
    ['image', { body: 'AAAA' }, /^params.body: image is 3 bytes; the minimum is 100/],
    ['image', { body: Buffer.alloc(700 * 1024).toString('base64') }, /^params.body: /],
    ['image', { body: '!!!!' + 'A'.repeat(200) }, /^params.body: is not valid base64/],
  ];
  for (const [type, params, re] of bad) {
    assert.throws(() => parseTaskSpec(type, params), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, re);
      return true;
    });
  }
  const good = parseTaskSpec('image', { body: Buffer.alloc(200, 7).toString('base64'), numeric: 1 });
  assert.equal(good.type, 'image');
});

test('keyspace: every key shares the partition hash tag; bad names are refused', () => {
  const ks = keyspace({ prefix: 'ss', partition: 'p3' });
  for (const k of [ks.lane('critical'), ks.results, ks.events, ks.deadLetter, ks.task('a'), ks.idem('t', 'k'), ks.delayed]) {
    assert.match(k, /^ss:\{p3\}:/);
  }
  assert.equal(ks.idem('a:b', 'c'), 'ss:{p3}:idem:a%3Ab:c');
  assert.throws(() => keyspace({ partition: 'a}b' }), /invalid partition/);
  assert.throws(() => keyspace({ prefix: '' }), /invalid key prefix/);
});
