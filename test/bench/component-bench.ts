import { BenchComponent } from './bench-component.js';
import { processCpuMicros } from './cpu.js';
import type { BenchServer } from './servers.js';
import { pingPong, windowed, type Pair, type WorkloadResult } from './workload.js';

/** One server through both workloads, with the server's CPU per stanza. */

export interface ServerFigures {
  server: string;
  windowed: WorkloadResult & CpuFigures;
  pingPong: WorkloadResult & CpuFigures;
}

export interface CpuFigures {
  cpuUsPerStanza: number;
  /** The same per server process, in the order of the pids measured (a cluster's nodes). */
  cpuUsPerStanzaByProcess: number[];
}

export interface ComponentBenchOptions {
  stanzas: number;
  pingPongStanzas: number;
  window: number;
  secret: string;
}

export async function benchServer(server: BenchServer, o: ComponentBenchOptions): Promise<ServerFigures> {
  const from = 'cba.example.test';
  const to = 'cbb.example.test';
  const auth = (address: string) => (server.handshake ? { address, secret: o.secret } : undefined);
  // The relay pairs its first connection with its second: A first.
  const a = await BenchComponent.connect(server.port, auth(from));
  const b = await BenchComponent.connect(server.port, auth(to));
  try {
    return { server: server.name, ...(await measurePair({ a, b, from, to }, [server.pid], o)) };
  } finally {
    a.close();
    b.close();
  }
}

/** Warm-up, then both workloads on an open pair; CPU is the sum over `pids` (one node, or every node of a cluster). */
export async function measurePair(pair: Pair, pids: number[], o: ComponentBenchOptions): Promise<Omit<ServerFigures, 'server'>> {
  // Warm up the JIT and the sockets before anything is measured.
  await windowed(pair, Math.min(20_000, o.stanzas), o.window);
  const w = await measureWindowed(pair, pids, o);
  const p = await withCpu(pids, () => pingPong(pair, o.pingPongStanzas));
  return { windowed: w, pingPong: p };
}

/** One windowed run on a warm pair, with its CPU per stanza. */
export function measureWindowed(pair: Pair, pids: number[], o: ComponentBenchOptions): Promise<WorkloadResult & CpuFigures> {
  return withCpu(pids, () => windowed(pair, o.stanzas, o.window));
}

async function withCpu(pids: number[], work: () => Promise<WorkloadResult>): Promise<WorkloadResult & CpuFigures> {
  const cpu = () => pids.map((pid) => processCpuMicros(pid));
  const before = cpu();
  const result = await work();
  const byProcess = cpu().map((us, i) => (us - before[i]!) / result.stanzas);
  return { ...result, cpuUsPerStanza: byProcess.reduce((x, y) => x + y, 0), cpuUsPerStanzaByProcess: byProcess };
}
