/**
 * The v1 protocol's work: `in.php` submit and the `res.php` actions
 * (captcha-protocols.md §1.4), answering {@link V1Answer}s that render.ts turns
 * into plain text or JSON.
 *
 * Multi-get (`action=get&ids=1,2,3`): answers in id order joined by `|` with no
 * `OK|` prefix, `CAPCHA_NOT_READY` in unready slots, `ERROR_CAPTCHA_UNSOLVABLE` /
 * `ERROR_WRONG_CAPTCHA_ID` in failed or unknown slots; JSON is always `status: 1`.
 * More than `maxIds` ids is `ERROR_BAD_PARAMETERS`; a non-numeric id is `ERROR_WRONG_ID_FORMAT`.
 */
import { balanceText, type Account } from './accounts';
import { formatMoney } from './money';
import { type Params, type UploadedFile, str } from './params';
import { isError } from './provider';
import { NOT_READY, v1, type V1Answer } from './render';
import type { SimulatorState } from './state';
import type { Task } from './tasks';
import { keptParams, parseV1Submit } from './v1-spec';

export function submitV1(state: SimulatorState, params: Params, file: UploadedFile | undefined, ip: string): V1Answer {
  const checked = state.provider.checkKey(str(params, 'key'));
  if ('code' in checked) return v1.error(checked.code);
  const parsed = parseV1Submit(params, file, { minBytes: state.options.minImageBytes, maxBytes: state.options.maxImageBytes });
  if ('code' in parsed) return v1.error(parsed.code);
  const submitted = state.provider.submit(checked.account, parsed.spec, keptParams(params, file), 'v1', ip);
  if (isError(submitted)) return v1.error(submitted.code);
  const id = submitted.task.id;
  return v1.ok(state.faults.numericIds ? id : String(id));
}

/** Extra JSON fields of a solved answer: Turnstile's user agent, hCaptcha's respKey + user agent. */
function extras(task: Task): Record<string, string> {
  const s = task.solution;
  const out: Record<string, string> = {};
  if (s?.respKey !== undefined) out.respKey = s.respKey;
  if (s?.userAgent !== undefined) out.useragent = s.userAgent;
  return out;
}

function getOne(state: SimulatorState, account: Account, idText: unknown, withPrice: boolean): V1Answer {
  const found = state.provider.find(account, idText);
  if (isError(found)) return v1.error(found.code);
  const task = found.task;
  task.polls++;
  if (task.state === 'solving') return v1.error(NOT_READY);
  if (task.state === 'unsolvable') return v1.error('ERROR_CAPTCHA_UNSOLVABLE');
  const answer = task.solution?.answer ?? '';
  if (!withPrice) return v1.ok(answer, extras(task));
  const price = formatMoney(task.price);
  return v1.ok(answer, { ...extras(task), price }, `OK|${answer}|${price}`);
}

/** The slot text of one id in a multi-get. */
function slot(state: SimulatorState, account: Account, id: string): string {
  const found = state.provider.find(account, id);
  if (isError(found)) return found.code;
  found.task.polls++;
  if (found.task.state === 'solving') return NOT_READY;
  if (found.task.state === 'unsolvable') return 'ERROR_CAPTCHA_UNSOLVABLE';
  return found.task.solution?.answer ?? '';
}

/** Splits `ids=` into its items (empty items kept, so they fail the format check). */
export const splitIds = (ids: string): string[] => ids.split(',').map((s) => s.trim());

function getMany(state: SimulatorState, account: Account, ids: string): V1Answer {
  const list = splitIds(ids);
  if (list.some((id) => !/^\d+$/.test(id))) return v1.error('ERROR_WRONG_ID_FORMAT');
  if (list.length > state.options.maxIds) return v1.error('ERROR_BAD_PARAMETERS');
  return v1.bare(list.map((id) => slot(state, account, id)).join('|'));
}

function reportV1(state: SimulatorState, account: Account, idText: unknown, kind: 'good' | 'bad'): V1Answer {
  const found = state.provider.find(account, idText);
  if (isError(found)) return v1.error(found.code);
  const result = state.provider.report(found.task, kind);
  return result === 'OK_REPORT_RECORDED' ? v1.bare(result) : v1.error(result);
}

export function resultV1(state: SimulatorState, params: Params): V1Answer {
  const checked = state.provider.checkKey(str(params, 'key'));
  if ('code' in checked) return v1.error(checked.code);
  const account = checked.account;
  const action = str(params, 'action')?.trim().toLowerCase() ?? '';
  const id = str(params, 'id');
  switch (action) {
    case '':
      return v1.error('ERROR_EMPTY_ACTION');
    case 'get': {
      const ids = str(params, 'ids');
      if (ids !== undefined && ids.trim() !== '') return getMany(state, account, ids);
      return getOne(state, account, id, false);
    }
    case 'get2':
      return getOne(state, account, id, true);
    case 'getbalance':
      return v1.bare(balanceText(account));
    case 'reportbad':
    case 'reportgood':
      return reportV1(state, account, id, action === 'reportgood' ? 'good' : 'bad');
    default:
      return v1.error('ERROR_BAD_PARAMETERS');
  }
}
