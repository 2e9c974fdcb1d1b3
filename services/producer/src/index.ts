/**
 * @solvestream/producer — the client-facing HTTP API. Exported for whole-system tests
 * and tooling; the process entry point is `main.ts`.
 */
export { buildApp, type AppDeps } from './app';
export { PRODUCER_ENV, type ProducerEnv } from './config';
export { ERROR_STATUS, HttpError, type ErrorBody, type ErrorCode } from './errors';
export { ResultsListener, type ResultsListenerOptions, type ResultsNotifier, type Watch, type WakeReason } from './results-listener';
export { keepLanesReady } from './lanes';
export { ResultsDispatcher, type DispatcherOptions } from './delivery/dispatcher';
export type { TaskResource, SubmittedResource } from './task-response';
