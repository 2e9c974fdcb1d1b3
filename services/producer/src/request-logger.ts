/**
 * fastify's per-request logger (`request.log`), built only when something logs.
 *
 * fastify makes a pino child per request (the request id bound, our redaction paths
 * compiled into it): ≈ 3 KB allocated and ≈ 1 % of the producer's CPU per request in the
 * benchmark's allocation profile (docs/benchmarks.md). The producer never logs through
 * `request.log`: its routes and error handler use the service logger with explicit
 * fields. Only fastify's own rare warnings (a reply sent twice, a failed abort hook) do,
 * and for those the child is built on first use, with the same bindings and options, so
 * they still carry the request id.
 */
import type { FastifyBaseLogger } from 'fastify';

type Bindings = Parameters<FastifyBaseLogger['child']>[0];
type ChildLoggerOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>;

export class LazyRequestLogger {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get log(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings, this.options));
  }

  get level(): string { return this.real?.level ?? this.options.level ?? this.parent.level; }
  set level(level: string) { this.log.level = level; }

  fatal(obj: unknown, msg?: string, ...args: unknown[]): void { this.log.fatal(obj, msg, ...args); }
  error(obj: unknown, msg?: string, ...args: unknown[]): void { this.log.error(obj, msg, ...args); }
  warn(obj: unknown, msg?: string, ...args: unknown[]): void { this.log.warn(obj, msg, ...args); }
  info(obj: unknown, msg?: string, ...args: unknown[]): void { this.log.info(obj, msg, ...args); }
  debug(obj: unknown, msg?: string, ...args: unknown[]): void { this.log.debug(obj, msg, ...args); }
  trace(obj: unknown, msg?: string, ...args: unknown[]): void { this.log.trace(obj, msg, ...args); }
  silent(obj: unknown, msg?: string, ...args: unknown[]): void { this.log.silent(obj, msg, ...args); }
  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger { return this.log.child(bindings, options); }
}

/** fastify's `childLoggerFactory` option. */
export function lazyRequestLogger(this: unknown, parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(parent, bindings, options) as unknown as FastifyBaseLogger;
}
