import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientUrlAttributes, pathOnly, redactQuery, redisStatement, serverQueryAttributes } from '../src/redact';

test('a query keeps its harmless parameters and loses every sensitive value', () => {
  assert.equal(redactQuery('?key=0123456789abcdef0123456789abcdef&action=get&id=7&json=1'), '?key=REDACTED&action=get&id=7&json=1');
  assert.equal(redactQuery('proxy=u%3Apw%40h%3A1&method=userrecaptcha'), 'proxy=REDACTED&method=userrecaptcha');
  assert.equal(redactQuery('?action=get&id=7'), '?action=get&id=7', 'untouched when nothing is sensitive');
  assert.equal(redactQuery('?sig=abc&x=1'), '?sig=REDACTED&x=1', 'the instrumentation defaults stay redacted');
  // By pattern and case-insensitively: a pingback URL with its own token, credentials under any spelling.
  assert.equal(redactQuery('?Key=K&pingback=https%3A%2F%2Fh.example%2Fcb%3Faccess_token%3DT&action=get'), '?Key=REDACTED&pingback=REDACTED&action=get');
  assert.equal(redactQuery('access_token=a&api_key=b&apikey=c&Authorization=d&X-Amz-Credential=e&sessionid=f&id=7'),
    'access_token=REDACTED&api_key=REDACTED&apikey=REDACTED&Authorization=REDACTED&X-Amz-Credential=REDACTED&sessionid=REDACTED&id=7');
  assert.deepEqual(serverQueryAttributes('/res.php?key=K&action=get&id=7'), { 'url.query': 'key=REDACTED&action=get&id=7' });
  assert.deepEqual(serverQueryAttributes('/v1/tasks'), {});
});

test('url.path is the path only', () => {
  assert.equal(pathOnly('/in.php?key=secret&method=post'), '/in.php');
  assert.equal(pathOnly('/v1/tasks'), '/v1/tasks');
});

test('db.query.text names the command, a script its SHA and first key, and never an argument value', () => {
  const sha = 'a'.repeat(40);
  assert.equal(redisStatement('evalsha', [sha, 3, 'ss:{p0}:task:T1', 'ss:{p0}:events', 'ss:{p0}:tasks:normal', 'T1', '{"proxy":{"password":"pw"}}']), `evalsha ${sha} ss:{p0}:task:T1 [4 other arguments]`);
  assert.equal(redisStatement('EVALSHA', [sha, 0, 'x']), `evalsha ${sha} [1 other arguments]`);
  assert.equal(redisStatement('eval', ['return redis.call("GET", KEYS[1])', 1, 'k']), 'eval <script> k [0 other arguments]');
  assert.equal(redisStatement('auth', ['user', 'hunter2']), 'auth [2 arguments]');
  assert.equal(redisStatement('hset', ['ss:{p0}:task:T1', 'token', 'secret-token']), 'hset [3 arguments]');
  assert.equal(redisStatement('ping', []), 'ping');
});

test('an outgoing request with a token in its query gets redacted url attributes; one without a query none', () => {
  assert.deepEqual(clientUrlAttributes('https://hooks.example:8443', '/cb?token=t0k3n&task=T1'), {
    'url.query': '?token=REDACTED&task=T1', 'url.full': 'https://hooks.example:8443/cb?token=REDACTED&task=T1',
  });
  assert.deepEqual(clientUrlAttributes('http://127.0.0.1:9', '/in.php'), {});
});
