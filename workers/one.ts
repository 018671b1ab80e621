import { jobByName, allJobs } from '../jobs/index.ts';
import { main } from './fleet.ts';

/**
 * Runs one queue's worker as its own process (and N replicas of it). The scheduler runs
 * too: reconciliation is leader-locked, so any number of processes can carry it.
 */
export async function runOne(name: string): Promise<void> {
  const job = jobByName(name);
  if (!job) {
    process.stderr.write(`Unknown queue "${name}". Valid: ${allJobs.map((j) => j.name).join(', ')}\n`);
    process.exitCode = 1;
    return;
  }
  await main({ run: [job], scheduler: true, migrate: false });
}
