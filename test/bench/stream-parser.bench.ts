import { StreamParser } from '../../src/xmpp/stream-parser.js';

/**
 * The stream parser alone: CPU per stanza for the benchmark's stanza (no
 * ':' anywhere) and for one with `xml:lang` and a `urn:` payload (the
 * namespace check's slow path), and CPU for one hostile element (10,000
 * levels, 40,000 attributes) fed in 64 KiB chunks as a socket would. CPU is
 * process.cpuUsage, so other processes on the machine matter less than to
 * wall time; run it several times and compare medians.
 *
 * Run: npm run build && node dist/test/bench/stream-parser.bench.js
 */

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='cb1.example.test'>";
const STANZAS = Number(process.env.BENCH_STANZAS ?? 100_000);
const BATCH = 50;
const ROUNDS = 11;

const plain = (i: number) => `<message from='cba.example.test' to='cbb.example.test' type='chat' id='m${i}'><body>benchmark payload ${i}</body></message>`;
const namespaced = (i: number) =>
  `<message from='cba.example.test' to='cbb.example.test' type='chat' id='m${i}' xml:lang='en'><body>payload at 12:${i % 60}</body><x xmlns='urn:xmpp:example:1'/></message>`;

function cpuMicros(work: () => void): number {
  const before = process.cpuUsage();
  work();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function newParser(onElement: () => void = () => undefined, onError: (condition: string) => void = () => undefined): StreamParser {
  return new StreamParser(
    { streamStart: () => undefined, element: onElement, streamEnd: () => undefined, streamError: (e) => onError(e.condition) },
    { maxElementSize: 1024 * 1024 },
  );
}

function perStanza(stanza: (i: number) => string): number {
  const chunks: string[] = [];
  for (let i = 0; i < STANZAS; i += BATCH) chunks.push(Array.from({ length: BATCH }, (_, k) => stanza(i + k)).join(''));
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const parser = newParser(() => n++);
    parser.write(HEADER);
    rounds.push((cpuMicros(() => chunks.forEach((c) => parser.write(c))) * 1000) / STANZAS);
    if (n !== STANZAS) throw new Error(`parsed ${n} of ${STANZAS} stanzas`);
  }
  return median(rounds);
}

function hostile(input: string): { ms: number; outcome: string } {
  const rounds: number[] = [];
  let outcome = 'taken';
  for (let r = 0; r < ROUNDS; r++) {
    const parser = newParser(undefined, (condition) => (outcome = condition));
    parser.write(HEADER);
    rounds.push(cpuMicros(() => {
      for (let i = 0; i < input.length; i += 65_536) parser.write(input.slice(i, i + 65_536));
    }) / 1000);
  }
  return { ms: median(rounds), outcome };
}

const deep = `<message from='a.example.test' to='b.example.test'>${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}</message>`;
const wide = `<message from='a.example.test' to='b.example.test'><x ${Array.from({ length: 40_000 }, (_, i) => `a${i}=''`).join(' ')}/></message>`;

console.log(`Stream parser, CPU (median of ${ROUNDS})`);
console.log(`stanza without ':'           ${perStanza(plain).toFixed(0).padStart(6)} ns/stanza`);
console.log(`stanza with xml:lang, urn:   ${perStanza(namespaced).toFixed(0).padStart(6)} ns/stanza`);
for (const [name, input] of [['10,000 levels', deep], ['40,000 attributes', wide]] as const) {
  const { ms, outcome } = hostile(input);
  console.log(`${name.padEnd(28)} ${ms.toFixed(2).padStart(6)} ms (${outcome})`);
}
