export * from './system';
export * from './tasks';
