/**
 * The long version of the seeded chaos simulation:
 *   npm run soak:raft -- --seeds 10000 [--start 1] [--ticks 600]
 * Runs each seed's plan, prints every failure (with the line that replays
 * it) and a summary; exits 1 if any seed failed.
 */
import { runChaos } from './sim/chaos.js';
import { planForSeed } from './sim/seed-plan.js';

class SoakUsageError extends Error {}

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 0) throw new SoakUsageError(`--${name} needs a non-negative integer`);
  return value;
}

try {
  soak();
} catch (err) {
  if (!(err instanceof SoakUsageError)) throw err;
  console.error(err.message);
  process.exitCode = 2;
}

function soak(): void {

  const seeds = arg('seeds', 1000);
  const start = arg('start', 1);
  const ticks = arg('ticks', 600);
  const began = process.hrtime.bigint();
  let failed = 0;
  let acked = 0;
  let elections = 0;
  let snapshots = 0;
  let confChanges = 0;
  let crashes = 0;
  let reads = 0;
  for (let seed = start; seed < start + seeds; seed++) {
    const result = runChaos(planForSeed(seed, ticks));
    if (!result.ok) {
      failed++;
      console.log(result.report);
      continue;
    }
    acked += result.stats!.acked;
    elections += result.stats!.elections;
    snapshots += result.stats!.snapshotsSent;
    confChanges += result.stats!.confChanges;
    crashes += result.stats!.crashes;
    reads += result.stats!.readsAnswered;
    if ((seed - start + 1) % 1000 === 0) console.log(`... ${seed - start + 1} seeds, ${failed} failed`);
  }
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  console.log(
    `raft soak: seeds ${start}..${start + seeds - 1} (${seeds}), ${ticks} chaos ticks each: ${seeds - failed} passed, ${failed} failed in ${seconds.toFixed(1)} s` +
      ` (acknowledged proposals ${acked}, leaders elected ${elections}, snapshots sent ${snapshots}, membership changes ${confChanges}, crashes ${crashes}, linearizable reads checked ${reads})`,
  );
  process.exitCode = failed > 0 ? 1 : 0;
}
