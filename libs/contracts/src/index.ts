/**
 * @solvestream/contracts — the one module that owns every Redis key name, stream and
 * group name, entry schema, the encode/decode of entries and the Lua transitions.
 * A key string built by hand anywhere else is a bug.
 */
export * from './keys';
export * from './errors';
export * from './task-types';
export * from './validate';
export * from './codec';
export * from './projection';
export * from './transitions';
export * from './streams';
export * from './delayed';
export * from './alerts';
export * from './admission';
export * from './mode';
export * from './reports';
export * from './runtime-config';
