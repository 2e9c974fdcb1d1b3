import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import { buildSampler } from '../src/sampler';

test('the sampler setting: the standard names, parent-based ones follow links, bad values name the variable', () => {
  assert.match(buildSampler().toString(), /^LinkFollowingSampler\{ParentBased/, 'default: parentbased_always_on');
  assert.match(buildSampler({ name: 'parentbased_traceidratio', arg: '0.1' }).toString(), /LinkFollowingSampler\{ParentBased.*TraceIdRatioBased\{0\.1\}/);
  assert.match(buildSampler({ name: 'traceidratio', arg: '0.25' }).toString(), /^TraceIdRatioBased\{0\.25\}$/, 'not parent-based: independent decisions, as asked');
  assert.match(buildSampler({ name: 'always_off' }).toString(), /^AlwaysOffSampler$/);
  assert.throws(() => buildSampler({ name: 'sometimes' }), /OTEL_TRACES_SAMPLER "sometimes" is not one of/);
  assert.throws(() => buildSampler({ name: 'traceidratio', arg: '2' }), /OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got "2"/);
});

test('links decide for parentless CONSUMER and CLIENT spans only; other kinds (the supervisor\'s reclaim spans) keep the configured sampler', () => {
  const sampler = buildSampler(); // parentbased_always_on: a root is always sampled
  const unsampledLink = [{ context: { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: TraceFlags.NONE } }];
  const decide = (kind: SpanKind, ctx = ROOT_CONTEXT) => sampler.shouldSample(ctx, '3'.repeat(32), 'x', kind, {}, unsampledLink).decision;
  assert.equal(decide(SpanKind.CONSUMER), tracing.SamplingDecision.NOT_RECORD, 'a process span follows its link');
  assert.equal(decide(SpanKind.CLIENT), tracing.SamplingDecision.NOT_RECORD, 'a batched request follows its links');
  assert.equal(decide(SpanKind.INTERNAL), tracing.SamplingDecision.RECORD_AND_SAMPLED, 'a reclaim span: the configured sampler');
  const invalidParent = trace.setSpanContext(ROOT_CONTEXT, INVALID_SPAN_CONTEXT);
  assert.equal(decide(SpanKind.CONSUMER, invalidParent), tracing.SamplingDecision.NOT_RECORD, 'an invalid parent counts as none');
});
