/**
 * `buildSimulator(options)` assembles the simulator: state, body parsing, fault
 * gate, and the v1, JSON-API, health and admin routes. Nothing happens at import
 * and nothing listens here; `main.ts` (or a test) calls `app.listen`.
 */
import multipart from '@fastify/multipart';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Delays } from './delays';
import { jsonApiError } from './errors';
import { FaultConfigError } from './fault-config';
import { installFaultGate, phaseOf, send } from './gate';
import { resolveOptions, type SimulatorOptions, type SimulatorOverrides } from './options';
import { renderJson, renderV1, v1 } from './render';
import { adminRoutes, BadRequest } from './routes/admin';
import { jsonApiRoutes } from './routes/json-api';
import { v1Routes } from './routes/v1';
import { createState, type SimulatorState } from './state';

export interface Simulator {
  /** The fastify instance; `await sim.app.listen({ port, host })` to serve it. */
  readonly app: FastifyInstance;
  /** Accounts, tasks, faults and counters, for direct inspection in tests. */
  readonly state: SimulatorState;
  readonly options: SimulatorOptions;
  /** Stops listening, ends injected delays. Safe to call twice. */
  close(): Promise<void>;
}

/** An error while reading a protocol request (oversized or broken body) still gets a protocol answer. */
function protocolError(req: FastifyRequest, reply: FastifyReply, err: FastifyError): FastifyReply {
  const code = err.statusCode === 413 ? 'ERROR_TOO_BIG_CAPTCHA_FILESIZE' : 'ERROR_UPLOAD';
  if (req.url.startsWith('/in.php') || req.url.startsWith('/res.php')) {
    const json = /[?&]json=(1|true)\b/.test(req.url);
    return send(reply, renderV1(v1.error(code), json));
  }
  return send(reply, renderJson(jsonApiError(code), code));
}

export function buildSimulator(overrides: SimulatorOverrides = {}): Simulator {
  const options = resolveOptions(overrides);
  const state = createState(options);
  const delays = new Delays();
  // Room for a base64 image at the size limit inside a JSON or form body.
  const bodyLimit = Math.max(1024 * 1024, Math.ceil((options.maxImageBytes * 4) / 3) * 2 + 64 * 1024);
  const app = Fastify({ logger: options.logger, logController: new LogController({ disableRequestLogging: true }), bodyLimit });

  // One parser for every non-multipart body: keep the text, params.ts interprets it
  // (JSON if it starts with `{`, whatever the Content-Type; form-urlencoded otherwise).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  void app.register(multipart, { throwFileSizeLimit: false });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof BadRequest || err instanceof FaultConfigError) return reply.code(400).send({ error: err.message });
    if (phaseOf(req.url) !== undefined) return protocolError(req, reply, err);
    req.log.error({ err }, 'request failed');
    return reply.code(err.statusCode ?? 500).send({ error: err.message });
  });

  installFaultGate(app, state, delays);
  // Probes (never faulted): the simulator has no dependency, so ready = live.
  for (const path of ['/health', '/livez', '/health/ready', '/readyz']) app.get(path, () => ({ status: 'ok' }));
  v1Routes(app, state);
  jsonApiRoutes(app, state);
  adminRoutes(app, state);
  app.addHook('preClose', async () => delays.cancelAll());

  let closing: Promise<void> | undefined;
  return {
    app,
    state,
    options,
    close: () => (closing ??= app.close()),
  };
}
