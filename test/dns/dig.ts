import { execFile } from 'node:child_process';

/** The real `dig` (Debian dnsutils) against a server on loopback, its output parsed. */

export const DIG = '/usr/bin/dig';

export interface DigResult {
  /** `NOERROR`, `NXDOMAIN`, `REFUSED`, ... from `->>HEADER<<-`. */
  status: string;
  id: number;
  /** Header flags as dig prints them: `qr`, `aa`, `tc`, `rd`, ... */
  flags: string[];
  answer: string[][];
  authority: string[][];
  additional: string[][];
  /** `UDP` or `TCP`: how the answer dig printed came (from `;; SERVER:`). */
  transport: string;
  /** dig's whole output, for failure messages and for lines like `;; Truncated, retrying in TCP mode.` */
  text: string;
}

/** `source`: the address dig sends from (`-b`), one of our loopback addresses. */
export function dig(server: { address: string; port: number }, args: string[], source?: string): Promise<DigResult> {
  const argv = [`@${server.address}`, '-p', String(server.port), ...(source ? ['-b', source] : []), '+norecurse', '+time=2', '+tries=1', '+noall', '+comments', '+answer', '+authority', '+additional', '+stats', ...args];
  return new Promise((resolve, reject) => {
    execFile(DIG, argv, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err && !stdout) return reject(new Error(`dig ${argv.join(' ')} failed: ${err.message} ${stderr}`));
      resolve(parse(stdout));
    });
  });
}

function parse(text: string): DigResult {
  const header = /->>HEADER<<- opcode: \w+, status: (\w+), id: (\d+)/.exec(text);
  const flags = /;; flags: ([\w ]*);/.exec(text);
  const sections: Record<string, string[][]> = { ANSWER: [], AUTHORITY: [], ADDITIONAL: [] };
  let current: string[][] | null = null;
  for (const line of text.split('\n')) {
    const start = /^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (start) current = sections[start[1]!]!;
    else if (line.startsWith(';') || line.trim() === '') current = line.trim() === '' ? null : current;
    else if (current) current.push(line.trim().split(/\s+/));
  }
  return {
    status: header?.[1] ?? 'NONE',
    transport: /;; SERVER: \S+ \((UDP|TCP)\)/.exec(text)?.[1] ?? 'NONE',
    id: Number(header?.[2] ?? -1),
    flags: flags?.[1]?.trim().split(/\s+/) ?? [],
    answer: sections.ANSWER!,
    authority: sections.AUTHORITY!,
    additional: sections.ADDITIONAL!,
    text,
  };
}
