export * from './supervisor';
export * from './reclaimer';
export * from './dead-letter';
export * from './ops-server';
export * from './config';
