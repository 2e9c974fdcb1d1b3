export * from './system';
export * from './tasks';
export * from './processes';
export * from './inspect';
export * from './paid';
export * from './archive';
export * from './dr';
