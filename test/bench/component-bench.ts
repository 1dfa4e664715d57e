import { BenchComponent } from './bench-component.js';
import { processCpuMicros } from './cpu.js';
import type { BenchServer } from './servers.js';
import { pingPong, windowed, type Pair, type WorkloadResult } from './workload.js';

/** One server through both workloads, with the server's CPU per stanza. */

export interface ServerFigures {
  server: string;
  windowed: WorkloadResult & { cpuUsPerStanza: number };
  pingPong: WorkloadResult & { cpuUsPerStanza: number };
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
  const pair: Pair = { a, b, from, to };
  try {
    // Warm up the JIT and the sockets before anything is measured.
    await windowed(pair, Math.min(20_000, o.stanzas), o.window);
    const measure = async (work: () => Promise<WorkloadResult>) => {
      const before = processCpuMicros(server.pid);
      const result = await work();
      const cpu = processCpuMicros(server.pid) - before;
      return { ...result, cpuUsPerStanza: cpu / result.stanzas };
    };
    const w = await measure(() => windowed(pair, o.stanzas, o.window));
    const p = await measure(() => pingPong(pair, o.pingPongStanzas));
    return { server: server.name, windowed: w, pingPong: p };
  } finally {
    a.close();
    b.close();
  }
}
