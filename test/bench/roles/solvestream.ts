/**
 * solvestream's client for the pipeline benchmark (lib/client.ts protocol).
 *
 * The producer runs IN this process, built exactly as its main.ts builds it (buildApp,
 * the results listener and the results dispatcher on their own connections), and tasks
 * enter through its HTTP API with `app.inject` (routing, auth, validation, admission,
 * submitTask.lua, the 202 answer) — everything but the socket. A socket would add the
 * HTTP cost of both the producer and this client to the same 2 cores, measuring node's
 * HTTP stack rather than the pipeline; BullMQ's `queue.add` has no HTTP layer either.
 *
 * Results are the producer's own: the results listener's subscription (XREAD of the
 * results stream, as long-polls and SSE use it).
 *
 * options.submitter = `transition` skips the HTTP layer and admission: submitTask.lua
 * straight from Transitions (the slow-task benchmark, which measures the worker), the
 * submits of one event-loop turn in one call as the producer sends them (WriteBatch).
 *
 * With SS_TRACING=on this process starts the OpenTelemetry SDK first, like main.ts.
 */
import { registerTelemetry, telemetryHandle } from '@solvestream/telemetry';
registerTelemetry('producer');
import { keyspace, Transitions, type SubmittedInput, type TaskEntry } from '@solvestream/contracts';
import { createLogger, createRedis, WriteBatch } from '@solvestream/core';
import { buildApp, ResultsDispatcher, ResultsListener } from '@solvestream/producer';
import { randomUUID } from 'node:crypto';
import { clientMain, type Contender } from '../lib/client';
import { taskBody } from '../lib/tasks';


void clientMain(async (cfg): Promise<Contender> => {
  const logger = createLogger({ service: 'producer', level: 'warn' });
  const keys = keyspace({ prefix: cfg.prefix });
  const redis = createRedis({ url: cfg.redisUrl, name: 'bench:api', role: 'api' });
  const transitions = new Transitions(redis, keys);
  const listener = new ResultsListener({ redis: createRedis({ url: cfg.redisUrl, name: 'bench:results', role: 'blocking' }), keys, logger }).start();
  const dispatcher = new ResultsDispatcher({
    redis: createRedis({ url: cfg.redisUrl, name: 'bench:dispatch', role: 'blocking' }), keys, logger, consumer: 'bench-producer',
  }).start();
  const app = buildApp({ redis, transitions, keys, logger, clock: Date.now, notifier: listener });
  await app.ready();
  // The api connection refuses commands until it is connected (no offline queue).
  await new Promise<void>((res) => (redis.status === 'ready' ? res() : redis.once('ready', () => res())));
  const viaApi = async (i: number): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: '/v1/tasks', payload: taskBody(i) });
    if (res.statusCode !== 202) throw new Error(`submit answered ${res.statusCode}: ${res.body}`);
    return (res.json() as { id: string }).id;
  };
  const submits = new WriteBatch((inputs: SubmittedInput[]) => transitions.submitBatch(inputs));
  const viaTransition = async (i: number): Promise<string> => {
    const now = Date.now();
    const entry: TaskEntry = {
      taskId: randomUUID(), tenant: 'default', priority: 'normal', attempt: 1, submittedAt: now, deadline: now + 180_000, trace: {},
      ...taskBody(i),
    };
    const r = await submits.run({ entry, now });
    if (!('created' in r) || !r.created) throw new Error(`submit answered ${JSON.stringify(r)}`);
    return entry.taskId;
  };
  return {
    target: { submit: cfg.options?.submitter === 'transition' ? viaTransition : viaApi },
    onResult: (fn) => { listener.subscribe((_id, result) => fn(result.taskId)); },
    close: async () => {
      await app.close();
      await listener.close();
      await dispatcher.close();
      redis.disconnect();
      await telemetryHandle().shutdown();
    },
  };
});
