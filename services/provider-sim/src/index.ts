/**
 * @solvestream/provider-sim — a CaptchaAI/2captcha protocol simulator.
 * `buildSimulator` for in-process use; `parseEnv` turns an environment into options.
 */
export { buildSimulator, type Simulator } from './app';
export { parseEnv, ConfigError } from './config';
export { resolveOptions, defaultOptions, type SimulatorOptions, type SimulatorOverrides } from './options';
export { parseFaults, FaultConfigError, type FaultConfig } from './fault-config';
export type { SimulatorState } from './state';
export type { TaskView, Duplicate } from './task-views';
export type { KeyCounters } from './stats';
export { TASK_KINDS, type TaskKind } from './kinds';
