/**
 * @solvestream/core — what every service needs at its edges: env config parsing,
 * the pino logger factory with redaction, the Redis client factory and process
 * lifecycle helpers.
 */
export * from './config';
export * from './logger';
export * from './redis';
export * from './lifecycle';
export * from './cli';
export * from './write-batch';
