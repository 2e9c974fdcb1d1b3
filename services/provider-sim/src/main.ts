/**
 * Process entry point: reads the environment, listens, prints one
 * `{"msg":"listening","url":"http://HOST:PORT"}` line, and closes cleanly on
 * SIGTERM/SIGINT (exit 0; a second signal forces exit 1).
 */
import { buildSimulator } from './app';
import { ConfigError, parseEnv } from './config';

async function main(): Promise<void> {
  let config;
  try {
    config = parseEnv(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`provider-sim: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const sim = buildSimulator(config.options);
  const { app } = sim;

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      app.log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    sim.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Started by the local launcher: stop when it dies without stopping us.
  if (process.env.SS_EXIT_WITH_PARENT === '1') {
    const parent = process.ppid;
    setInterval(() => process.ppid !== parent && stop('SIGTERM'), 1000).unref();
  }

  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  // Launchers wait for this line, so it is printed whatever the log level.
  const logger = config.options.logger;
  const infoShown = typeof logger !== 'object' || ['info', 'debug', 'trace'].includes(logger.level);
  if (infoShown) app.log.info({ url, seed: sim.options.seed }, 'listening');
  else process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), service: 'provider-sim', pid: process.pid, url, seed: sim.options.seed, msg: 'listening' })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`provider-sim: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
