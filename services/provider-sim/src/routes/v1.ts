/**
 * Routes of the classic protocol: `/in.php` and `/res.php`, GET and POST, in every
 * body encoding (see params.ts). `json=1` selects JSON answers; `header_acao=1`
 * adds `Access-Control-Allow-Origin: *`. API errors are HTTP 200.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { serve } from '../gate';
import { flag, readParams, str, type Params } from '../params';
import { renderV1, v1 } from '../render';
import type { SimulatorState } from '../state';
import { resultV1, splitIds, submitV1 } from '../v1-actions';

const acao = (params: Params): Record<string, string> => (flag(params, 'header_acao') ? { 'access-control-allow-origin': '*' } : {});

/** Counts a `res.php` request by action before any fault can replace its answer. */
function countResult(state: SimulatorState, params: Params): void {
  const c = state.stats.key(str(params, 'key'));
  const action = str(params, 'action')?.trim().toLowerCase();
  if (action === 'get' || action === 'get2') {
    c.polls++;
    const ids = action === 'get' ? str(params, 'ids') : undefined;
    if (ids !== undefined && ids.trim() !== '') {
      c.multiGets++;
      c.polledIds += splitIds(ids).length;
    } else {
      c.polledIds++;
    }
  } else if (action === 'getbalance') {
    c.balanceChecks++;
  }
}

export function v1Routes(app: FastifyInstance, state: SimulatorState): void {
  app.route({
    method: ['GET', 'POST'],
    url: '/in.php',
    handler: async (req, reply) => {
      const { params, file } = await readParams(req, state.options.maxImageBytes);
      const json = flag(params, 'json');
      const key = str(params, 'key');
      state.stats.key(key).submits++;
      return serve(state, req, reply, key, {
        error: (code) => renderV1(v1.error(code), json),
        run: () => renderV1(submitV1(state, params, file, req.ip), json),
      }, acao(params));
    },
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/res.php',
    handler: async (req, reply) => {
      const { params } = await readParams(req, state.options.maxImageBytes);
      const json = flag(params, 'json');
      const key = str(params, 'key');
      countResult(state, params);
      return serve(state, req, reply, key, {
        error: (code) => renderV1(v1.error(code), json),
        run: () => renderV1(resultV1(state, params), json),
      }, acao(params));
    },
  });

  // Browsers preflight JSON POSTs; answer them so `header_acao` clients work from a page.
  app.options('/in.php', (_req, reply) => corsPreflight(reply));
  app.options('/res.php', (_req, reply) => corsPreflight(reply));
}

function corsPreflight(reply: FastifyReply): FastifyReply {
  return reply
    .code(204)
    .headers({ 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': '*' })
    .send();
}
