/**
 * The JSON task API (anti-captcha / 2captcha API v2 style, captcha-protocols.md §2):
 * `POST /createTask`, `/getTaskResult`, `/getBalance` and the report methods.
 * Every answer is HTTP 200 with `errorId` (0 = OK) and, on error, `errorCode` +
 * `errorDescription`.
 */
import type { FastifyInstance } from 'fastify';
import type { Account } from '../accounts';
import { jsonApiError } from '../errors';
import { serve } from '../gate';
import { keptTask, parseJsonTask } from '../json-spec';
import { formatMoney, fromMicros } from '../money';
import { readParams, str, type Params } from '../params';
import { isError } from '../provider';
import { renderJson, type Rendered } from '../render';
import type { SimulatorState } from '../state';
import type { Task } from '../tasks';

const fail = (code: string): Rendered => renderJson(jsonApiError(code), jsonApiError(code).errorCode);

/** Solution object per kind, shaped as anti-captcha / 2captcha v2 clients read it. */
export function solutionOf(task: Task): Record<string, string> {
  const s = task.solution;
  if (!s) return {};
  switch (task.spec.kind) {
    case 'recaptcha_v2':
    case 'recaptcha_v3':
      return { gRecaptchaResponse: s.answer, token: s.answer };
    case 'hcaptcha':
      return { gRecaptchaResponse: s.answer, token: s.answer, respKey: s.respKey ?? '', userAgent: s.userAgent ?? '' };
    case 'turnstile':
      return { token: s.answer, userAgent: s.userAgent ?? '' };
    case 'image':
      return { text: s.answer };
  }
}

function taskResult(state: SimulatorState, account: Account, body: Params): Rendered {
  const found = state.provider.find(account, body.taskId);
  if (isError(found)) return fail(found.code);
  const task = found.task;
  task.polls++;
  if (task.state === 'solving') return renderJson({ errorId: 0, status: 'processing' });
  if (task.state === 'unsolvable') return fail('ERROR_CAPTCHA_UNSOLVABLE');
  return renderJson({
    errorId: 0,
    status: 'ready',
    solution: solutionOf(task),
    cost: formatMoney(task.price),
    ip: task.ip,
    createTime: Math.floor(task.submittedAt / 1000),
    endTime: Math.floor((task.finishedAt ?? task.readyAt) / 1000),
    solveCount: 1,
  });
}

type Method = (state: SimulatorState, account: Account, body: Params, ip: string) => Rendered;

/** A report method: `good` or `bad` for the task in `taskId`. */
const report =
  (kind: 'good' | 'bad'): Method =>
  (state, account, body) => {
    const found = state.provider.find(account, body.taskId);
    if (isError(found)) return fail(found.code);
    const result = state.provider.report(found.task, kind);
    return result === 'OK_REPORT_RECORDED' ? renderJson({ errorId: 0, status: 'success' }) : fail(result);
  };

const METHODS: Record<string, Method> = {
  createTask(state, account, body, ip) {
    const parsed = parseJsonTask(body.task, { minBytes: state.options.minImageBytes, maxBytes: state.options.maxImageBytes });
    if ('code' in parsed) return fail(parsed.code);
    const submitted = state.provider.submit(account, parsed.spec, keptTask(body.task), 'json', ip);
    if (isError(submitted)) return fail(submitted.code);
    return renderJson({ errorId: 0, taskId: submitted.task.id });
  },
  getTaskResult: (state, account, body) => taskResult(state, account, body),
  getBalance: (_state, account) => renderJson({ errorId: 0, balance: fromMicros(account.balance) }),
  // anti-captcha names, then 2captcha API v2's own (which also accepts the former).
  reportIncorrectImageCaptcha: report('bad'),
  reportIncorrectRecaptcha: report('bad'),
  reportIncorrectHcaptcha: report('bad'),
  reportCorrectRecaptcha: report('good'),
  reportIncorrect: report('bad'),
  reportCorrect: report('good'),
};

export function jsonApiRoutes(app: FastifyInstance, state: SimulatorState): void {
  for (const [name, method] of Object.entries(METHODS)) {
    app.post(`/${name}`, async (req, reply) => {
      const { params: body } = await readParams(req, state.options.maxImageBytes);
      const key = str(body, 'clientKey');
      const c = state.stats.key(key);
      if (name === 'createTask') c.submits++;
      else if (name === 'getTaskResult') {
        c.polls++;
        c.polledIds++;
      } else if (name === 'getBalance') c.balanceChecks++;
      return serve(state, req, reply, key, {
        error: fail,
        run: () => {
          const checked = state.provider.checkKey(key);
          return 'code' in checked ? fail(checked.code) : method(state, checked.account, body, req.ip);
        },
      });
    });
  }
}
