/**
 * Signal handling for `main.ts` files. The first SIGTERM/SIGINT runs `shutdown` (drain,
 * close Redis, flush telemetry); a second signal, or `forceAfterMs` passing, exits at
 * once with code 1. Components themselves never install signal handlers.
 */
import type { Logger } from 'pino';

export interface ShutdownOptions {
  logger: Logger;
  /** `step(name)` names the part of the shutdown under way: a forced exit logs it. */
  shutdown: (signal: string, step: (name: string) => void) => Promise<void>;
  /** Hard deadline for the whole shutdown, ms. Default 30,000. */
  forceAfterMs?: number;
  /** Shut down when the parent process goes away (main.ts passes SS_EXIT_WITH_PARENT=1). */
  exitWithParent?: boolean;
}

export function onShutdownSignal({ logger, shutdown, forceAfterMs = 30_000, exitWithParent = false }: ShutdownOptions): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    let current = 'start';
    const force = setTimeout(() => {
      logger.error({ forceAfterMs, step: current }, 'shutdown took too long: exiting');
      process.exit(1);
    }, forceAfterMs);
    force.unref();
    shutdown(signal, (name) => { current = name; }).then(
      () => {
        logger.info('stopped');
        logger.flush?.();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  // Started by the local launcher (`npm start`): stop when it dies without stopping us.
  if (exitWithParent) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) handler('SIGTERM');
    }, 1000).unref();
  }
}

/** A stable id for this process: host, pid and a random suffix (consumer name, heartbeat id). */
export function instanceId(service: string, hostname: string): string {
  const rand = Math.random().toString(36).slice(2, 8);
  return `${service}-${hostname}-${process.pid}-${rand}`;
}

/**
 * A check that runs at start and then every `intervalMs` (timer unref'd), and never
 * overlaps itself: a call while one run is under way joins it. `run` must not throw;
 * logging its own errors is its job.
 */
export class PeriodicCheck {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly run: () => Promise<void>, private readonly intervalMs: number) {}

  /** Starts the timer (once) and resolves when the first run is done. */
  start(): Promise<void> {
    if (!this.timer) {
      this.timer = setInterval(() => void this.check(), this.intervalMs);
      this.timer.unref();
    }
    return this.check();
  }

  /** One run now (or the one under way). */
  check(): Promise<void> {
    this.running ??= this.run().finally(() => { this.running = undefined; });
    return this.running;
  }

  /** Stops the timer; a run under way finishes on its own. Safe to call twice. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
