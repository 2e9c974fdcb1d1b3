/**
 * Child process of compact.test.ts: runs one compaction of an archive and SIGKILLs
 * itself right after the named step (a real kill -9: no finally, no close).
 *   node compact-child.js <dir> <cutoff ms> <step> <entries per frame>
 * Run without arguments (as the test runner does with every file here) it does nothing.
 */
import { ArchiveWriter, compactArchive, type CompactStep } from '../src';

async function main([dir, cutoff, step, frameEntries]: string[]): Promise<void> {
  const w = ArchiveWriter.open({ dir: dir as string, prefix: 'ss', partition: 'p0' });
  await compactArchive(w, {
    cutoff: Number(cutoff), frameEntries: Number(frameEntries),
    onStep: (s: CompactStep) => { if (s === step) process.kill(process.pid, 'SIGKILL'); },
  });
  w.close();
}

if (require.main === module && process.argv.length > 2) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
