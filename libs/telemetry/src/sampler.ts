/**
 * Sampling that keeps a task's trace whole when spans LINK to it instead of being its
 * children.
 *
 * The worker's `process` span is by default a new root linked to the submit's span (the
 * messaging conventions), and a batched `poll <provider>` request is a root linked to
 * every task it serves. A parent-based sampler sees no parent on either, so it made a
 * fresh decision: with `parentbased_traceidratio` at 0.1 the producer kept 1 submit in
 * 10 and the worker kept a DIFFERENT 1 in 10, so a sampled submit had its worker half
 * only 10 % of the time (measured: 47 % agreement at a ratio of 0.5).
 *
 * Rule (only where the configured sampler is parent-based, the default; `always_on`,
 * `always_off` and `traceidratio` are taken as asked for independent decisions):
 * a CONSUMER or CLIENT span (the process span, a batched request) with no valid parent
 * and at least one valid link is sampled iff one of its links is sampled (a poll request
 * that serves a sampled task is kept, so the task's trace shows it: with batches of n
 * tasks and a ratio r, 1 − (1 − r)^n of the requests are kept); everything else goes to
 * the configured sampler, including the supervisor's INTERNAL reclaim and dead-letter
 * spans, which stay sampled on their own (rare events, worth keeping).
 *
 * The configured sampler is the standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG,
 * read by register.ts and built here the way the SDK builds it.
 */
import { isSpanContextValid, SpanKind, TraceFlags, trace, type Attributes, type Context, type Link } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';

export interface SamplerSetting {
  /** OTEL_TRACES_SAMPLER; default `parentbased_always_on` (the SDK's). */
  name?: string;
  /** OTEL_TRACES_SAMPLER_ARG: the ratio of the `*traceidratio` samplers, 0..1 (default 1). */
  arg?: string;
}

export class LinkFollowingSampler implements tracing.Sampler {
  constructor(private readonly inner: tracing.Sampler) {}

  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): tracing.SamplingResult {
    const parent = trace.getSpanContext(ctx);
    if (links.length > 0 && (kind === SpanKind.CONSUMER || kind === SpanKind.CLIENT) && !(parent && isSpanContextValid(parent))) {
      let linked = false;
      for (const l of links) {
        if (!isSpanContextValid(l.context)) continue;
        if (l.context.traceFlags & TraceFlags.SAMPLED) return { decision: tracing.SamplingDecision.RECORD_AND_SAMPLED };
        linked = true;
      }
      if (linked) return { decision: tracing.SamplingDecision.NOT_RECORD };
    }
    return this.inner.shouldSample(ctx, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return `LinkFollowingSampler{${this.inner.toString()}}`;
  }
}

/** The sampler for a setting; throws naming the variable when it is not one the SDK knows. */
export function buildSampler(s: SamplerSetting = {}): tracing.Sampler {
  const name = (s.name || 'parentbased_always_on').trim().toLowerCase();
  const ratio = (): number => {
    if (s.arg === undefined || s.arg.trim() === '') return 1;
    const r = Number(s.arg);
    if (!Number.isFinite(r) || r < 0 || r > 1) throw new Error(`OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got "${s.arg}"`);
    return r;
  };
  switch (name) {
    case 'always_on': return new tracing.AlwaysOnSampler();
    case 'always_off': return new tracing.AlwaysOffSampler();
    case 'traceidratio': return new tracing.TraceIdRatioBasedSampler(ratio());
    case 'parentbased_always_on': return new LinkFollowingSampler(new tracing.ParentBasedSampler({ root: new tracing.AlwaysOnSampler() }));
    case 'parentbased_always_off': return new LinkFollowingSampler(new tracing.ParentBasedSampler({ root: new tracing.AlwaysOffSampler() }));
    case 'parentbased_traceidratio': return new LinkFollowingSampler(new tracing.ParentBasedSampler({ root: new tracing.TraceIdRatioBasedSampler(ratio()) }));
    default:
      throw new Error(`OTEL_TRACES_SAMPLER "${s.name}" is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio`);
  }
}
