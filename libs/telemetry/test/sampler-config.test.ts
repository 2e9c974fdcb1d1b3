import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSampler } from '../src/sampler';

test('the sampler setting: the standard names, parent-based ones follow links, bad values name the variable', () => {
  assert.match(buildSampler().toString(), /^LinkFollowingSampler\{ParentBased/, 'default: parentbased_always_on');
  assert.match(buildSampler({ name: 'parentbased_traceidratio', arg: '0.1' }).toString(), /LinkFollowingSampler\{ParentBased.*TraceIdRatioBased\{0\.1\}/);
  assert.match(buildSampler({ name: 'traceidratio', arg: '0.25' }).toString(), /^TraceIdRatioBased\{0\.25\}$/, 'not parent-based: independent decisions, as asked');
  assert.match(buildSampler({ name: 'always_off' }).toString(), /^AlwaysOffSampler$/);
  assert.throws(() => buildSampler({ name: 'sometimes' }), /OTEL_TRACES_SAMPLER "sometimes" is not one of/);
  assert.throws(() => buildSampler({ name: 'traceidratio', arg: '2' }), /OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got "2"/);
});
