/**
 * The admin API: fault injection, accounts, counters and task records. Never
 * faulted. Bad input is HTTP 400 `{"error":"<message naming the field>"}`.
 *
 *   GET    /admin/faults            active fault config (same shape PUT takes)
 *   PUT    /admin/faults            replace it            PATCH: replace only the sections given
 *   DELETE /admin/faults            no faults
 *   POST   /admin/reset             back to start-up state (accounts, SIM_FAULTS, no tasks, zero counters)
 *   GET    /admin/accounts[/:key]   balance, threads, busy/free threads
 *   PUT    /admin/accounts/:key     {"balance"?: n, "threads"?: n}, creates the account if needed
 *   POST   /admin/accounts/:key/rotate  {"newKey", "revokeOld"?: bool}: the account gets a new key (tasks stay)
 *   GET    /admin/stats[/:key]      request counters (all keys + total + injected faults, or one key)
 *   GET    /admin/tasks[/:id]       task records; filters ?key= &state= &fingerprint= &q= &limit=
 *   GET    /admin/duplicates        fingerprints submitted more than once; ?key= ?q= ?charged=true (only >1 charged)
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { KEY_PATTERN, viewAccount } from '../accounts';
import { emptyFaults, parseFaults } from '../fault-config';
import { readParams, str, type Params } from '../params';
import type { SimulatorState } from '../state';
import { duplicates, filterTasks, taskView } from '../task-views';
import { parseTaskId } from '../tasks';

/** Invalid admin input; answered as HTTP 400 with its message. */
export class BadRequest extends Error {}

async function jsonBody(req: FastifyRequest): Promise<Record<string, unknown>> {
  const text = typeof req.body === 'string' ? req.body.trim() : '';
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadRequest('body must be JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new BadRequest('body must be a JSON object');
  return parsed as Record<string, unknown>;
}

function optionalNumber(body: Record<string, unknown>, name: string, integer: boolean): number | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new BadRequest(`${name} must be a ${integer ? 'non-negative integer' : 'non-negative number'}`);
  }
  return v;
}

export function adminRoutes(app: FastifyInstance, state: SimulatorState): void {
  const { faults, accounts, stats, tasks, provider } = state;

  app.get('/admin/faults', () => faults.config);
  app.put('/admin/faults', async (req) => {
    faults.set(parseFaults(await jsonBody(req), state.options.now()));
    return faults.config;
  });
  app.patch('/admin/faults', async (req) => {
    faults.patch(await jsonBody(req));
    return faults.config;
  });
  app.delete('/admin/faults', () => {
    faults.set(emptyFaults());
    return faults.config;
  });
  app.post('/admin/reset', () => {
    state.reset();
    return { status: 'ok' };
  });

  app.get('/admin/accounts', () => {
    provider.settle();
    return accounts.list().map(viewAccount);
  });
  app.get<{ Params: { key: string } }>('/admin/accounts/:key', (req, reply) => {
    provider.settle();
    const account = accounts.get(req.params.key);
    return account ? viewAccount(account) : reply.code(404).send({ error: `no account for key ${req.params.key}` });
  });
  app.put<{ Params: { key: string } }>('/admin/accounts/:key', async (req) => {
    if (!KEY_PATTERN.test(req.params.key)) throw new BadRequest('key must be 32 letters or digits');
    const body = await jsonBody(req);
    for (const k of Object.keys(body)) if (k !== 'balance' && k !== 'threads') throw new BadRequest(`${k} is not a known field (known: balance, threads)`);
    const change = { balance: optionalNumber(body, 'balance', false), threads: optionalNumber(body, 'threads', true) };
    provider.settle();
    return viewAccount(accounts.upsert(req.params.key, change));
  });

  app.post<{ Params: { key: string } }>('/admin/accounts/:key/rotate', async (req, reply) => {
    const body = await jsonBody(req);
    for (const k of Object.keys(body)) if (k !== 'newKey' && k !== 'revokeOld') throw new BadRequest(`${k} is not a known field (known: newKey, revokeOld)`);
    if (typeof body.newKey !== 'string' || !KEY_PATTERN.test(body.newKey)) throw new BadRequest('newKey must be 32 letters or digits');
    if (body.revokeOld !== undefined && typeof body.revokeOld !== 'boolean') throw new BadRequest('revokeOld must be true or false');
    let account;
    try {
      account = accounts.rotate(req.params.key, body.newKey, body.revokeOld === true);
    } catch (err) {
      throw new BadRequest(`newKey: ${(err as Error).message}`);
    }
    return account ? viewAccount(account) : reply.code(404).send({ error: `no account for key ${req.params.key}` });
  });

  app.get('/admin/stats', () => {
    provider.settle();
    const byState = { solving: 0, solved: 0, unsolvable: 0 };
    for (const t of tasks.all()) byState[t.state]++;
    return { total: stats.total(), keys: stats.all(), injectedFaults: faults.injected, tasks: { count: tasks.size, ...byState } };
  });
  app.get<{ Params: { key: string } }>('/admin/stats/:key', (req) => {
    provider.settle();
    return stats.peek(req.params.key) ?? stats.key(req.params.key);
  });

  const filterOf = (q: Params) => ({ key: str(q, 'key'), state: str(q, 'state'), fingerprint: str(q, 'fingerprint'), q: str(q, 'q') });

  app.get('/admin/tasks', async (req) => {
    provider.settle();
    const { params } = await readParams(req, 0);
    const limit = Number(str(params, 'limit') ?? 1000);
    const found = filterTasks(tasks, filterOf(params));
    return { count: found.length, tasks: found.slice(0, Number.isFinite(limit) ? limit : 1000).map(taskView) };
  });
  app.get<{ Params: { id: string } }>('/admin/tasks/:id', (req, reply) => {
    provider.settle();
    const id = parseTaskId(req.params.id);
    const task = id === undefined ? undefined : tasks.get(id);
    return task ? taskView(task) : reply.code(404).send({ error: `no task ${req.params.id}` });
  });

  app.get('/admin/duplicates', async (req) => {
    provider.settle();
    const { params } = await readParams(req, 0);
    let found = duplicates(filterTasks(tasks, filterOf(params)));
    if (str(params, 'charged') === 'true' || str(params, 'charged') === '1') found = found.filter((d) => d.charged > 1);
    return { count: found.length, duplicates: found };
  });
}
