import { BenchComponent } from './bench-component.js';
import { processCpuMicros } from './cpu.js';
import { startOurNode } from './servers.js';

/**
 * What one hostile element costs the server's CPU: a stanza 10,000 levels
 * deep (routed, and sent to the server's own domain), and 40,000 attributes
 * on one element (inside a stanza, and on the stream header). The server runs
 * in its own process, as in `npm run bench`; its CPU is read from /proc (10 ms
 * ticks), so each input is sent RUNS times and the total is divided.
 *
 * Run: npm run build && node dist/test/bench/hostile-input.bench.js
 */

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const SECRET = 'bench-secret-0123456789';
const DOMAIN = 'example.test';
const HEADER = (to: string) => `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${to}'>`;

const RESERVED = new Set(['to', 'id', 'from', 'type', 'xmlns', 'version']);

/** `n` distinct attribute names, as short as they can be. */
function attributeNames(n: number): string[] {
  const first = 'abcdefghijklmnopqrstuvwxyz';
  const rest = `${first}0123456789`;
  const names: string[] = [];
  for (let i = 0; names.length < n; i++) {
    let k = i;
    let s = first[k % 26]!;
    k = Math.floor(k / 26);
    while (k > 0) {
      s += rest[k % 36]!;
      k = Math.floor(k / 36);
    }
    // Not the names a stanza or header uses itself: a duplicate would end the parse early.
    if (!RESERVED.has(s)) names.push(s);
  }
  return names;
}

const deep = (from: string, to: string) => `<message from='${from}' to='${to}'>${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}</message>`;
const deepIq = (from: string) => `<iq type='get' id='d' from='${from}' to='${DOMAIN}'>${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}</iq>`;
const wideAttributes = attributeNames(40_000)
  .map((n) => `${n}=''`)
  .join(' ');
const wide = (from: string, to: string) => `<message from='${from}' to='${to}'><x ${wideAttributes}/></message>`;
const wideHeader = (to: string) => HEADER(to).slice(0, -1) + ` ${wideAttributes}>`;

/** Resolves when the server did something with the input: routed it to `b`, answered, or closed. */
function reaction(a: BenchComponent, b: BenchComponent): Promise<string> {
  const before = b.received;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reaction from the server within 20 s')), 20_000);
    const done = (what: string) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve(what);
    };
    a.socket.once('data', (d: string) => done(/<stream:error><([a-z-]+)/.exec(d)?.[1] ?? 'answered'));
    a.socket.once('close', () => done('closed'));
    // b counts </message> as it arrives; a routed stanza shows there.
    const poll = setInterval(() => b.received > before && done('routed'), 1);
  });
}

async function main(): Promise<void> {
  const names = Array.from({ length: RUNS * 3 }, (_, i) => `h${i}`);
  const server = await startOurNode(SECRET, ['cbb', ...names]);
  const b = await BenchComponent.connect(server.port, { address: `cbb.${DOMAIN}`, secret: SECRET });
  let next = 0;
  const session = () => {
    const address = `${names[next++]!}.${DOMAIN}`;
    return BenchComponent.connect(server.port, { address, secret: SECRET }).then((a) => ({ a, address }));
  };
  const cases: Array<{ name: string; open: () => Promise<{ a: BenchComponent; input: string }> }> = [
    { name: 'message 10,000 levels deep', open: async () => session().then(({ a, address }) => ({ a, input: deep(address, `cbb.${DOMAIN}`) })) },
    { name: 'iq to the server, 10,000 levels deep', open: async () => session().then(({ a, address }) => ({ a, input: deepIq(address) })) },
    { name: 'message with a 40,000-attribute child', open: async () => session().then(({ a, address }) => ({ a, input: wide(address, `cbb.${DOMAIN}`) })) },
    { name: 'stream header with 40,000 attributes', open: async () => ({ a: await BenchComponent.connect(server.port), input: wideHeader(`h0.${DOMAIN}`) }) },
  ];
  console.log(`Hostile input: server CPU per input, mean of ${RUNS} (server ${server.pid}, /proc ticks of 10 ms)`);
  try {
    for (const c of cases) {
      let cpu = 0;
      const outcomes = new Set<string>();
      for (let i = 0; i < RUNS; i++) {
        const { a, input } = await c.open();
        const reacted = reaction(a, b);
        const before = processCpuMicros(server.pid);
        a.write(input);
        outcomes.add(await reacted);
        cpu += processCpuMicros(server.pid) - before;
        a.close();
      }
      console.log(`${c.name.padEnd(40)} ${(cpu / RUNS / 1000).toFixed(1).padStart(6)} ms CPU   (${[...outcomes].join(', ')})`);
    }
  } finally {
    b.close();
    await server.stop();
  }
}

await main();
