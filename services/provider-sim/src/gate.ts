/**
 * Where fault injection and counting meet the protocol handlers.
 *
 * `installFaultGate` adds an `onRequest` hook that, for protocol paths only, parks
 * the request for the `slow` delay and then applies an `outage`: `refuse` destroys
 * the connection without a byte of answer (the client sees a connection error),
 * `http500` answers an HTML error page. `/health` and `/admin/*` are never faulted,
 * so a test can always switch an outage off again.
 *
 * `serve` runs one parsed protocol request: the answer-replacing faults
 * (rate limit, error, nonsense), then the real work, then counts the error code
 * the client got and sends it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Delays } from './delays';
import type { Phase } from './fault-config';
import { renderHttpError, renderNonsense, type Rendered } from './render';
import type { SimulatorState } from './state';

const SUBMIT_PATHS = new Set(['/in.php', '/createTask']);
const POLL_PATHS = new Set([
  '/res.php',
  '/getTaskResult',
  '/getBalance',
  '/reportIncorrectImageCaptcha',
  '/reportIncorrectRecaptcha',
  '/reportCorrectRecaptcha',
  '/reportIncorrectHcaptcha',
  '/reportCorrect',
  '/reportIncorrect',
]);

/** Which fault phase a request path belongs to; undefined for non-protocol paths. */
export function phaseOf(url: string): Phase | undefined {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (SUBMIT_PATHS.has(path)) return 'submit';
  if (POLL_PATHS.has(path)) return 'poll';
  return undefined;
}

export function send(reply: FastifyReply, r: Rendered, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(r.status).headers(headers).type(r.contentType).send(r.body);
}

export function installFaultGate(app: FastifyInstance, state: SimulatorState, delays: Delays): void {
  app.addHook('onRequest', async (req, reply) => {
    const phase = phaseOf(req.url);
    if (phase === undefined) return;
    await delays.wait(state.faults.delayFor(phase));
    // Decided after the delay, so a slow request meets the outage state at its end.
    const outage = state.faults.outageFor(phase);
    if (outage?.mode === 'refuse') {
      reply.hijack();
      req.raw.socket.destroy();
      return;
    }
    if (outage?.mode === 'http500') send(reply, renderHttpError(outage.status));
  });
}

export interface Work {
  /** Renders an injected error code in the protocol's format. */
  error(code: string): Rendered;
  /** Does the real work and renders its answer. */
  run(): Rendered;
}

/** Runs one protocol request through the answer-replacing faults; counts the error answered to `key`. */
export function serve(state: SimulatorState, req: FastifyRequest, reply: FastifyReply, key: string | undefined, work: Work, headers: Record<string, string> = {}): FastifyReply {
  const phase = phaseOf(req.url) ?? 'poll';
  state.provider.settle();
  const fault = state.faults.afterBody(phase);
  let rendered: Rendered;
  if (fault.errorCode !== undefined) rendered = work.error(fault.errorCode);
  else if (fault.nonsense && !fault.nonsense.afterProcessing) rendered = renderNonsense(fault.nonsense, state.faultRandom);
  else {
    rendered = work.run();
    if (fault.nonsense) rendered = { ...renderNonsense(fault.nonsense, state.faultRandom, rendered), errorCode: rendered.errorCode };
  }
  if (rendered.errorCode !== undefined) state.stats.error(key, rendered.errorCode);
  return send(reply, rendered, headers);
}
