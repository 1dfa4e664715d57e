import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../../src/observability/logger.js';
import { Condition } from '../../helpers/condition.js';

/** The real pino logger writing into memory, so tests can wait for a log line. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly logger: Logger;
  readonly changes = new Condition();

  constructor() {
    const sink = new Writable({
      write: (chunk, _enc, done) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) this.lines.push(JSON.parse(line) as Record<string, unknown>);
        this.changes.changed();
        done();
      },
    });
    this.logger = pino({ level: 'debug' }, sink);
  }

  find(event: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.event === event);
  }

  async waitFor(event: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    await this.changes.until(() => this.find(event).length > 0, timeoutMs, () => `no ${event} log line; saw ${this.lines.map((l) => l.event).join(', ')}`);
    return this.find(event)[0]!;
  }
}
