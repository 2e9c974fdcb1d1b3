/**
 * The real npm CAPTCHA client libraries, pointed at a solvestream gateway instead of
 * their hard-coded hosts (captcha-protocols.md §4 says how for each). None of them has a
 * base-URL option, so each override reaches into the library the way the notes show:
 *
 *   @2captcha/captcha-solver        the shared `supportedProviders.twoCaptcha` object
 *   2captcha (Furry, 3.x)           a subclass overriding the `in` / `res` getters
 *   rucaptcha-2captcha              a request interceptor on its own nested axios 0.21
 *   @antiadmin/anticaptchaofficial  a request interceptor on the hoisted axios it requires
 *
 * Loaded through `createRequire`: two of them ship no types, and the overrides need
 * their internals. The interfaces below are the small part the gateway tests use.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const load = createRequire(__filename);

/** @2captcha/captcha-solver 1.3.x */
export interface TwoCaptchaSolver {
  balance(): Promise<number>;
  recaptcha(p: { pageurl: string; googlekey: string; [k: string]: unknown }): Promise<{ data: string; id: string }>;
  cloudflareTurnstile(p: { pageurl: string; sitekey: string; [k: string]: unknown }): Promise<{ data: string; id: string; useragent?: string }>;
  imageCaptcha(p: { body: string; [k: string]: unknown }): Promise<{ data: string; id: string }>;
  badReport(id: string): Promise<unknown>;
  goodReport(id: string): Promise<unknown>;
}

export function twoCaptchaSolver(base: string, key: string, pollMs = 200): TwoCaptchaSolver {
  const constants = load('@2captcha/captcha-solver/dist/structs/constants/constants') as { supportedProviders: { twoCaptcha: { in: string; res: string } } };
  constants.supportedProviders.twoCaptcha.in = `${base}/in.php`;
  constants.supportedProviders.twoCaptcha.res = `${base}/res.php`;
  const { Solver } = load('@2captcha/captcha-solver') as { Solver: new (key: string, pollingFrequency: number) => TwoCaptchaSolver };
  return new Solver(key, pollMs);
}

/** 2captcha (Furry) 3.0.x */
export interface FurrySolver {
  balance(): Promise<number>;
  recaptcha(googlekey: string, pageurl: string, extra?: Record<string, unknown>): Promise<{ data: string; id: string }>;
  imageCaptcha(base64: string, extra?: Record<string, unknown>): Promise<{ data: string; id: string }>;
  report(id: string): Promise<boolean>;
  goodReport(id: string): Promise<boolean>;
}

export function furrySolver(base: string, key: string, pollMs = 200): FurrySolver {
  const { Solver } = load('2captcha') as { Solver: new (key: string, pollingFrequency: number) => FurrySolver };
  class Local extends (Solver as unknown as new (key: string, pollingFrequency: number) => object) {
    get in(): string {
      return `${base}/in.php`;
    }
    get res(): string {
      return `${base}/res.php`;
    }
  }
  return new Local(key, pollMs) as unknown as FurrySolver;
}

interface AxiosLike {
  interceptors: { request: { use(fn: (c: { url?: string }) => { url?: string }): number; eject(id: number): void } };
}

function redirectAxios(fromPackage: string, pattern: RegExp, base: string): () => void {
  const dir = dirname(load.resolve(fromPackage));
  const axios = load(load.resolve('axios', { paths: [dir] })) as AxiosLike & { default?: AxiosLike };
  const instance = axios.interceptors ? axios : (axios.default as AxiosLike);
  const id = instance.interceptors.request.use((c) => {
    if (c.url) c.url = c.url.replace(pattern, base);
    return c;
  });
  return () => instance.interceptors.request.eject(id);
}

/** rucaptcha-2captcha 2.2.x */
export interface RuCaptcha {
  send(p: Record<string, unknown>): Promise<string>;
  get(id: string | string[]): Promise<string | string[]>;
  getWithPrice(id: string): Promise<{ token: string; price?: string }>;
  getBalance(): Promise<number>;
  reportBad(id: string): Promise<{ status: number; request: string }>;
  reportGood(id: string): Promise<{ status: number; request: string }>;
}

export function ruCaptcha(base: string, key: string): { client: RuCaptcha; restore: () => void } {
  const restore = redirectAxios('rucaptcha-2captcha', /^https:\/\/(ru|2)captcha\.com/, base);
  // CommonJS: module.exports is the factory itself.
  const make = load('rucaptcha-2captcha') as (key: string, service?: number | string) => RuCaptcha;
  return { client: make(key, 2), restore };
}

/** @antiadmin/anticaptchaofficial 1.0.x (a module-level singleton) */
export interface AntiCaptcha {
  settings: { firstAttemptWaitingInterval: number; normalWaitingInterval: number; isVerbose: boolean };
  setAPIKey(key: string): void;
  shutUp(): void;
  getBalance(): Promise<number>;
  solveRecaptchaV2Proxyless(url: string, key: string, invisible?: boolean): Promise<string>;
  solveImage(body: string): Promise<string>;
  solveTurnstileProxyless(url: string, key: string): Promise<string>;
  reportIncorrectRecaptcha(): Promise<unknown>;
  session: { taskId: number };
}

export function antiCaptcha(base: string, key: string, pollSeconds = 0.2): { client: AntiCaptcha; restore: () => void } {
  const restore = redirectAxios('@antiadmin/anticaptchaofficial', /^https:\/\/api\.anti-captcha\.com/, base);
  const ac = load('@antiadmin/anticaptchaofficial') as AntiCaptcha;
  ac.setAPIKey(key);
  ac.shutUp();
  ac.settings.firstAttemptWaitingInterval = pollSeconds;
  ac.settings.normalWaitingInterval = pollSeconds;
  return { client: ac, restore };
}
