/**
 * The `reports` stream: clients' verdicts on solved tasks (gateway `reportgood` /
 * `reportbad`, the JSON API's report methods), queued by `reportTask.lua` for a worker
 * to forward to the provider that solved the task (provider keys live only in workers).
 *
 * Entry (all strings):
 *
 *   v               '1'
 *   task            task id
 *   tenant          the reporting tenant
 *   type            task type
 *   verdict         'good' | 'bad'
 *   provider        provider name from the projection ('' when unknown: nothing to forward)
 *   providerTaskId  the provider's task id ('' when unknown)
 *   at              epoch ms of the report
 *
 * Consumer contract (services/worker/src/reports.ts): the consumer group `reporters`
 * reads the stream, calls `router.report(provider, providerTaskId, type, verdict)` and
 * XACKs; a provider refusal (duplicate, too late) is final, a network
 * error is retried later. Entries with an empty provider are acked at once.
 */
import { ENTRY_VERSION, fieldsToObject, objectToFields, type Decoded } from './codec';
import { ValidationError } from './errors';
import { isTaskType, type TaskType } from './task-types';

export interface ReportEntry {
  taskId: string;
  tenant: string;
  type: TaskType;
  verdict: 'good' | 'bad';
  provider: string;
  providerTaskId: string;
  at: number;
}

export function encodeReportEntry(r: ReportEntry): string[] {
  return objectToFields({ v: ENTRY_VERSION, task: r.taskId, tenant: r.tenant, type: r.type, verdict: r.verdict, provider: r.provider, providerTaskId: r.providerTaskId, at: r.at });
}

export function decodeReportEntry(list: readonly string[]): Decoded<ReportEntry> {
  try {
    const f = fieldsToObject(list);
    if (f.v !== ENTRY_VERSION) throw new ValidationError('v', `unsupported entry version ${JSON.stringify(f.v ?? null)}`);
    if (!f.task) throw new ValidationError('task', 'is missing');
    if (!isTaskType(f.type)) throw new ValidationError('type', `unknown task type ${JSON.stringify(f.type)}`);
    if (f.verdict !== 'good' && f.verdict !== 'bad') throw new ValidationError('verdict', 'must be good or bad');
    const at = Number(f.at);
    if (!Number.isSafeInteger(at)) throw new ValidationError('at', 'is not an integer');
    return { ok: true, value: { taskId: f.task, tenant: f.tenant ?? '', type: f.type, verdict: f.verdict, provider: f.provider ?? '', providerTaskId: f.providerTaskId ?? '', at } };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
