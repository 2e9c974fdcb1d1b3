/**
 * Test helpers: a simulator running in-process on a real port, a fake clock,
 * unique API keys and small fetch wrappers. Tests talk to it over real HTTP.
 */
import { randomBytes } from 'node:crypto';
import { buildSimulator, type Simulator, type SimulatorOverrides } from '../src/index';

export interface Clock {
  now: () => number;
  advance(ms: number): void;
}

/** A clock that only moves when told to. */
export function fakeClock(start = Date.now()): Clock {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

export interface TestSim {
  sim: Simulator;
  url: string;
  close(): Promise<void>;
}

/** Starts a simulator on a free port (unsolvable rate 0 and seed "test" unless overridden). */
export async function startSim(overrides: SimulatorOverrides = {}): Promise<TestSim> {
  const sim = buildSimulator({ seed: 'test', unsolvableRate: 0, ...overrides });
  await sim.app.listen({ port: 0, host: '127.0.0.1' });
  const address = sim.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { sim, url: `http://127.0.0.1:${port}`, close: () => sim.close() };
}

/** A fresh well-formed API key. */
export const newKey = (): string => randomBytes(16).toString('hex');

export interface Answer {
  status: number;
  text: string;
  headers: Headers;
}

export async function http(url: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  return { status: res.status, text: await res.text(), headers: res.headers };
}

const form = (params: Record<string, string | number>): URLSearchParams =>
  new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));

/** GET `path` with `params` as the query string. */
export function getQ(base: string, path: string, params: Record<string, string | number>): Promise<Answer> {
  return http(`${base}${path}?${form(params)}`);
}

/** POST `params` form-urlencoded. */
export function postForm(base: string, path: string, params: Record<string, string | number>): Promise<Answer> {
  return http(`${base}${path}`, { method: 'POST', body: form(params) });
}

/** POST `body` as application/json. */
export function postJson(base: string, path: string, body: unknown): Promise<Answer> {
  return http(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** POST to a JSON-API method and parse the answer. */
export async function api<T = Record<string, unknown>>(base: string, method: string, body: unknown): Promise<T> {
  const a = await postJson(base, `/${method}`, body);
  if (a.status !== 200) throw new Error(`${method}: HTTP ${a.status} ${a.text}`);
  return JSON.parse(a.text) as T;
}

/** GET an admin endpoint and parse the JSON. */
export async function admin<T = Record<string, unknown>>(base: string, path: string, init?: RequestInit): Promise<T> {
  const a = await http(`${base}${path}`, init);
  if (a.status >= 300) throw new Error(`${path}: HTTP ${a.status} ${a.text}`);
  return JSON.parse(a.text) as T;
}

/** PUT the fault config. */
export const putFaults = (base: string, faults: unknown): Promise<Record<string, unknown>> =>
  admin(base, '/admin/faults', { method: 'PUT', body: JSON.stringify(faults) });

/** A fake image: a PNG signature followed by `size - 8` filler bytes. */
export function image(size = 2048): Buffer {
  const b = Buffer.alloc(size, 7);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b);
  return b;
}

/** Submits a reCAPTCHA v2 over v1 (GET, json=1) and returns the task id text. */
export async function submitV2(base: string, key: string, extra: Record<string, string> = {}): Promise<string> {
  const a = await getQ(base, '/in.php', { key, method: 'userrecaptcha', googlekey: '6Le-test-sitekey', pageurl: 'https://example.com/login', json: 1, ...extra });
  const body = JSON.parse(a.text) as { status: number; request: string };
  if (body.status !== 1) throw new Error(`submit refused: ${a.text}`);
  return String(body.request);
}
