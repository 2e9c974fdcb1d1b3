/** The instant provider as a process: `BENCH_SOLVE_MS=0 node dist/bench/roles/provider.js` prints `listening <port>`. */
import { startInstantProvider } from '../lib/instant-provider';

void startInstantProvider(Number(process.env.BENCH_PORT ?? 0), Number(process.env.BENCH_SOLVE_MS ?? 0)).then((p) => {
  process.stdout.write(`listening ${p.port}\n`);
  process.on('SIGTERM', () => void p.close().then(() => process.exit(0)));
});
