export * from './system';
export * from './tasks';
export * from './processes';
export * from './inspect';
export * from './paid';
