import { processCpuMicros } from './cpu.js';
import { windowed, type Pair, type WorkloadResult } from './workload.js';

/**
 * Stanzas per second over one federated stream, windowed, with the CPU each
 * server spent per stanza (/proc/<pid>/stat before and after). Flows are
 * measured in alternation, `runs` times each, and each flow's median run
 * (by stanzas per second) is kept, so a neighbour's burst on the shared
 * machine lands on one run of each rather than on one flow.
 */

export interface Flow {
  /** `ours → Prosody`, as the table prints it. */
  readonly label: string;
  readonly pair: Pair;
  readonly senderPid: number;
  readonly receiverPid: number;
}

export interface FlowRun extends WorkloadResult {
  /** CPU µs per stanza of the sending server (the one whose component writes). */
  senderCpuUs: number;
  receiverCpuUs: number;
}

export interface FlowFigures extends FlowRun {
  label: string;
  /** Stanzas per second of every run, in run order. */
  allPerSecond: number[];
}

export async function measureFlows(flows: Flow[], o: { stanzas: number; window: number; runs: number; warmup: number }): Promise<FlowFigures[]> {
  // Warm-up: sets up the s2s streams both ways (dialback) and warms the JIT.
  for (const f of flows) await windowed(f.pair, o.warmup, Math.min(o.window, 100));
  const runs: FlowRun[][] = flows.map(() => []);
  for (let r = 0; r < o.runs; r++) {
    for (const [i, f] of flows.entries()) runs[i]!.push(await measureOnce(f, o.stanzas, o.window));
  }
  return flows.map((f, i) => {
    const sorted = [...runs[i]!].sort((a, b) => a.perSecond - b.perSecond);
    return { label: f.label, ...sorted[Math.floor(sorted.length / 2)]!, allPerSecond: runs[i]!.map((x) => x.perSecond) };
  });
}

async function measureOnce(f: Flow, stanzas: number, window: number): Promise<FlowRun> {
  const before = [processCpuMicros(f.senderPid), processCpuMicros(f.receiverPid)];
  const result = await windowed(f.pair, stanzas, window);
  const after = [processCpuMicros(f.senderPid), processCpuMicros(f.receiverPid)];
  return { ...result, senderCpuUs: (after[0]! - before[0]!) / stanzas, receiverCpuUs: (after[1]! - before[1]!) / stanzas };
}
