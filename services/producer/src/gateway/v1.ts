/**
 * The classic 2captcha / CaptchaAI protocol (captcha-protocols.md §1):
 *
 *   /in.php   submit: `OK|<id>` | `{"status":1,"request":"<id>"}`
 *   /res.php  action=get (id, or ids=a,b,c up to GATEWAY_MAX_IDS), get2, getbalance,
 *             reportgood, reportbad
 *
 * GET or POST, params merged from the query and any body encoding (params.ts). Every
 * answer is HTTP 200; errors are the protocol's codes, plain or `{"status":0,
 * "request":"ERROR_…","error_text":"…"}` with `json=1`. `header_acao=1` adds
 * `Access-Control-Allow-Origin: *`.
 *
 * Tasks get all-digit ids below 2^53. A task still open past its deadline (+ grace)
 * answers ERROR_CAPTCHA_UNSOLVABLE (task-reader.ts), so the clients — which never time
 * out — always stop polling. While Redis is unreachable, in.php answers
 * ERROR_NO_SLOT_AVAILABLE and `get` answers CAPCHA_NOT_READY: both make every client
 * wait and retry rather than fail a task that is safe in Redis.
 *
 * Non-standard extras: `priority` (critical|high|normal|low) on in.php. Not supported:
 * `pingback` (ignored; use REST `callbackUrl`), text captchas and the other methods.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isTerminal } from '@solvestream/contracts';
import { GatewayError, V1_RESULT_CODES, V1_TEXT } from './codes';
import { authKey, balanceOf, NUMERIC_ID_RE, type ClientTask, type GatewayDeps } from './common';
import { badBody, flag, mergeParams, str, type Params } from './params';
import { answerOf, gatewayPriority, v1Extras, v1TaskSpec } from './translate';

interface V1Flags {
  json: boolean;
  acao: boolean;
}

export function v1Flags(query: unknown, body: unknown): V1Flags {
  const p = mergeParams(query, badBody(body) ? undefined : body);
  return { json: flag(p, 'json'), acao: flag(p, 'header_acao') };
}

function send(reply: FastifyReply, f: V1Flags, plain: string, json: Record<string, unknown>): FastifyReply {
  if (f.acao) reply.header('access-control-allow-origin', '*');
  if (f.json) return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify(json));
  return reply.code(200).type('text/plain; charset=utf-8').send(plain);
}

/** An error answer in the request's format. */
export function sendV1Error(reply: FastifyReply, f: V1Flags, code: string, detail?: string): FastifyReply {
  const text = V1_TEXT[code] ?? code;
  return send(reply, f, code, { status: 0, request: code, error_text: detail ? `${text} (${detail})` : text });
}

/** The result slot of one task: answer, CAPCHA_NOT_READY, or an error code. */
function slot(view: ClientTask | undefined): { ready: boolean; value: string; error: boolean } {
  if (!view) return { ready: false, value: 'ERROR_WRONG_CAPTCHA_ID', error: true };
  if (!isTerminal(view.status)) return { ready: false, value: 'CAPCHA_NOT_READY', error: false };
  if (view.status === 'solved') return { ready: true, value: answerOf(view.solution), error: false };
  const code = view.errorCode && V1_RESULT_CODES.has(view.errorCode) ? view.errorCode : 'ERROR_CAPTCHA_UNSOLVABLE';
  return { ready: false, value: code, error: true };
}

const isUnavailable = (err: unknown): boolean => !(err instanceof GatewayError) && !(err instanceof TypeError) && !(err instanceof RangeError);

export function registerV1(app: FastifyInstance, d: GatewayDeps): void {
  /** Authenticates `key`; answers the key error and returns undefined on failure. */
  async function tenantFor(p: Params, reply: FastifyReply, f: V1Flags) {
    const auth = await authKey(d, str(p, 'key'));
    if (auth.ok) return auth.tenant;
    sendV1Error(reply, f, auth.reason === 'unknown' ? 'ERROR_KEY_DOES_NOT_EXIST' : 'ERROR_WRONG_USER_KEY');
    return undefined;
  }

  const inPhp = async (request: FastifyRequest, reply: FastifyReply) => {
    const f = v1Flags(request.query, request.body);
    if (badBody(request.body)) return sendV1Error(reply, f, 'ERROR_BAD_PARAMETERS', 'the body is not valid JSON');
    const p = mergeParams(request.query, request.body);
    try {
      const tenant = await tenantFor(p, reply, f);
      if (!tenant) return reply;
      const spec = v1TaskSpec(p);
      const priority = gatewayPriority(p.get('priority'), tenant.gatewayPriority, 'ERROR_BAD_PARAMETERS');
      const out = await d.submitter.submit({ tenant, spec, priority, source: 'v1', numericId: true });
      if (out.kind === 'refused') return sendV1Error(reply, f, out.reason === 'rate-limited' ? 'MAX_USER_TURN' : 'ERROR_NO_SLOT_AVAILABLE', out.detail);
      const id = out.kind === 'created' ? out.entry.taskId : out.taskId;
      return send(reply, f, `OK|${id}`, { status: 1, request: id });
    } catch (err) {
      if (err instanceof GatewayError) return sendV1Error(reply, f, err.code, err.detail);
      if (isUnavailable(err)) {
        d.logger.warn({ reason: err instanceof Error ? err.message : String(err) }, 'in.php: store unavailable');
        return sendV1Error(reply, f, 'ERROR_NO_SLOT_AVAILABLE', 'temporarily unavailable');
      }
      throw err;
    }
  };

  const resPhp = async (request: FastifyRequest, reply: FastifyReply) => {
    const f = v1Flags(request.query, request.body);
    if (badBody(request.body)) return sendV1Error(reply, f, 'ERROR_BAD_PARAMETERS', 'the body is not valid JSON');
    const p = mergeParams(request.query, request.body);
    const action = (str(p, 'action') ?? '').toLowerCase();
    try {
      const tenant = await tenantFor(p, reply, f);
      if (!tenant) return reply;
      switch (action) {
        case '':
          return sendV1Error(reply, f, 'ERROR_EMPTY_ACTION');
        case 'get':
        case 'get2': {
          const ids = str(p, 'ids');
          if (action === 'get' && ids !== undefined) {
            const list = ids.split(',').map((x) => x.trim());
            if (list.length > d.maxIds) return sendV1Error(reply, f, 'ERROR_BAD_PARAMETERS', `at most ${d.maxIds} ids`);
            const good = list.filter((x) => NUMERIC_ID_RE.test(x));
            const views = await d.reader.readMany(good, tenant.id);
            const byId = new Map(good.map((id, i) => [id, views[i]]));
            const joined = list.map((id) => (NUMERIC_ID_RE.test(id) ? slot(byId.get(id)).value : 'ERROR_WRONG_ID_FORMAT')).join('|');
            return send(reply, f, joined, { status: 1, request: joined });
          }
          const id = str(p, 'id');
          if (id === undefined || !NUMERIC_ID_RE.test(id)) return sendV1Error(reply, f, 'ERROR_WRONG_ID_FORMAT');
          let view;
          try {
            view = await d.reader.read(id, tenant.id);
          } catch (err) {
            if (!isUnavailable(err)) throw err;
            return send(reply, f, 'CAPCHA_NOT_READY', { status: 0, request: 'CAPCHA_NOT_READY' }); // Redis blip: keep polling
          }
          const s = slot(view);
          if (s.error) return sendV1Error(reply, f, s.value);
          if (!s.ready) return send(reply, f, s.value, { status: 0, request: s.value });
          const extras = view ? v1Extras(view.type, view.solution) : {};
          if (action === 'get2') return send(reply, f, `OK|${s.value}|0`, { status: 1, request: s.value, price: '0', ...extras });
          return send(reply, f, `OK|${s.value}`, { status: 1, request: s.value, ...extras });
        }
        case 'getbalance': {
          const balance = String(await balanceOf(d, tenant));
          return send(reply, f, balance, { status: 1, request: balance });
        }
        case 'reportgood':
        case 'reportbad': {
          const id = str(p, 'id');
          if (id === undefined || !NUMERIC_ID_RE.test(id)) return sendV1Error(reply, f, 'ERROR_WRONG_ID_FORMAT');
          const r = await d.transitions.report({ taskId: id, tenant: tenant.id, verdict: action === 'reportgood' ? 'good' : 'bad', windowMs: d.reportWindowMs, now: d.clock() });
          if (r.kind === 'no-task') return sendV1Error(reply, f, 'ERROR_WRONG_CAPTCHA_ID');
          if (r.kind === 'refused') return sendV1Error(reply, f, r.reason === 'duplicate' ? 'ERROR_DUPLICATE_REPORT' : 'ERROR_REPORT_NOT_RECORDED', r.reason);
          return send(reply, f, 'OK_REPORT_RECORDED', { status: 1, request: 'OK_REPORT_RECORDED' });
        }
        default:
          return sendV1Error(reply, f, 'ERROR_BAD_PARAMETERS', `unknown action ${action.slice(0, 40)}`);
      }
    } catch (err) {
      if (err instanceof GatewayError) return sendV1Error(reply, f, err.code, err.detail);
      if (isUnavailable(err)) {
        d.logger.warn({ action, reason: err instanceof Error ? err.message : String(err) }, 'res.php: store unavailable');
        // Polls keep polling through a Redis outage (the tasks are safe); other actions may fail.
        if (action === 'get' || action === 'get2') {
          const ids = str(p, 'ids');
          if (action === 'get' && ids !== undefined) {
            const joined = ids.split(',').map(() => 'CAPCHA_NOT_READY').join('|');
            return send(reply, f, joined, { status: 1, request: joined });
          }
          return send(reply, f, 'CAPCHA_NOT_READY', { status: 0, request: 'CAPCHA_NOT_READY' });
        }
        return sendV1Error(reply, f, 'ERROR_SERVER_ERROR');
      }
      throw err;
    }
  };

  for (const path of ['/in.php', '/res.php']) {
    const handler = path === '/in.php' ? inPhp : resPhp;
    app.route({ method: ['GET', 'POST'], url: path, handler });
    app.options(path, async (_request, reply) =>
      reply.code(204).header('access-control-allow-origin', '*').header('access-control-allow-methods', 'GET, POST').header('access-control-allow-headers', 'content-type').send(),
    );
  }
}

