/**
 * `GET /v1/results/stream`: a server-sent-events stream of the calling tenant's task
 * outcomes, as they happen.
 *
 *   id: <results stream entry id>
 *   event: result
 *   data: {"id":"<task id>","status":"solved","type":"turnstile","completedAt":"…","solution":{…}}
 *
 * Resume: a reconnecting client sends `Last-Event-ID` (EventSource does it by itself) or
 * `?after=<entry id>`; outcomes after it are replayed from the `results` stream (at most
 * `maxReplay` entries scanned, then live). A `: ping` comment every 15 s keeps proxies
 * from closing an idle stream. Live delivery rides on the process's results listener:
 * the subscription starts BEFORE the replay, and live entries at or below the last
 * replayed id are dropped, so nothing is missed or sent twice across the switch.
 *
 * Streams end when the client goes away or the producer shuts down (clients reconnect
 * with Last-Event-ID, to any instance). Polling stays the fallback.
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { decodeResultEntry, type Keyspace, type ResultEntry } from '@solvestream/contracts';
import { tenantOf } from '../auth';
import { HttpError, guardRedis } from '../errors';
import { compareStreamIds, type ResultsNotifier } from '../results-listener';
import { iso } from '../task-response';

export interface ResultStreamDeps {
  redis: Redis;
  keys: Keyspace;
  notifier: ResultsNotifier;
  /** Most results entries scanned for a resume. Default 100,000. */
  maxReplay?: number;
  heartbeatMs?: number;
}

const STREAM_ID_RE = /^\d{1,20}-\d{1,20}$/;

export function resultEvent(r: ResultEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { id: r.taskId, status: r.outcome, type: r.type, completedAt: iso(r.completedAt) };
  if (r.solution) out.solution = r.solution;
  if (r.outcome !== 'solved') out.error = { code: r.errorCode ?? 'ERROR_UNKNOWN', message: r.errorMessage ?? r.errorCode ?? 'the task failed' };
  return out;
}

export function registerResultStream(app: FastifyInstance, d: ResultStreamDeps): void {
  const open = new Set<(draining?: boolean) => void>();
  // Draining: each stream ends, and so does its connection (its headers said keep-alive;
  // left open, it could outlive the server's sweep of idle connections, and close()
  // would wait out the keep-alive timeout).
  app.addHook('preClose', async () => {
    for (const end of [...open]) end(true);
  });

  app.get('/v1/results/stream', async (request, reply) => {
    const tenant = tenantOf(request).id;
    const header = request.headers['last-event-id'];
    const after = (typeof header === 'string' && header !== '' ? header : (request.query as Record<string, unknown>).after) as unknown;
    if (after !== undefined && (typeof after !== 'string' || !STREAM_ID_RE.test(after))) {
      throw new HttpError('VALIDATION_FAILED', 'must be a results stream id like 1712345678901-0', typeof header === 'string' && header !== '' ? 'last-event-id' : 'after');
    }
    // Fail before hijacking if Redis is away, so the client sees a proper 503.
    await guardRedis(() => d.redis.ping());

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.write(': connected\n\n');
    let last = typeof after === 'string' ? after : '0-0';
    let replaying = true;
    const buffered: [string, ResultEntry][] = [];
    const write = (id: string, r: ResultEntry): void => {
      if (compareStreamIds(id, last) <= 0) return;
      last = id;
      raw.write(`id: ${id}\nevent: result\ndata: ${JSON.stringify(resultEvent(r))}\n\n`);
    };
    const unsubscribe = d.notifier.subscribe((id, r) => {
      if (r.tenant !== tenant) return;
      if (replaying) buffered.push([id, r]);
      else write(id, r);
    });
    const heartbeat = setInterval(() => raw.write(': ping\n\n'), d.heartbeatMs ?? 15_000);
    let ended = false;
    const end = (draining = false): void => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(end);
      const socket = raw.socket;
      raw.end();
      if (draining) socket?.end(); // after the stream's last bytes
    };
    open.add(end);
    raw.on('close', () => end());

    try {
      if (typeof after === 'string') {
        let start = `(${after}`;
        let scanned = 0;
        const max = d.maxReplay ?? 100_000;
        while (!ended && scanned < max) {
          const batch = (await d.redis.xrange(d.keys.results, start, '+', 'COUNT', 1000)) as [string, string[]][];
          for (const [id, fields] of batch) {
            const dec = decodeResultEntry(fields);
            if (dec.ok && dec.value.tenant === tenant) write(id, dec.value);
            else if (compareStreamIds(id, last) > 0) last = id;
          }
          scanned += batch.length;
          if (batch.length < 1000) break;
          start = `(${batch[batch.length - 1]![0]}`;
        }
      }
    } catch {
      end(); // Redis went away mid-replay: the client reconnects with its Last-Event-ID
      return;
    }
    replaying = false;
    for (const [id, r] of buffered.splice(0)) write(id, r);
  });
}
