import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths pino removes before a line is written. Secrets, digests, keys and
 * passwords never reach a log (DEVELOPERS.md); code should not log them in the
 * first place, this is the second fence.
 */
const REDACT_PATHS = [
  'secret',
  '*.secret',
  'password',
  '*.password',
  'digest',
  '*.digest',
  'key',
  '*.key',
  'privateKey',
  '*.privateKey',
  'dialbackSecret',
  '*.dialbackSecret',
];

export interface LoggerSettings {
  level?: string;
  /** Node name, bound once to every line. */
  node?: string;
  destination?: DestinationStream;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? process.env.XMPP_CLUSTER_LOG_LEVEL ?? 'info',
    base: settings.node ? { node: settings.node } : null,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

/** A logger that writes nothing, for library use without a configured node. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** How much log text may wait for a slow reader of standard error before lines are dropped. */
export const MAX_PENDING_LOG_BYTES = 8 * 1024 * 1024;

/**
 * Standard error as a log destination that never stops the node: writes are
 * asynchronous, and when the reader (a terminal, journald, a pipe) stops
 * reading, at most MAX_PENDING_LOG_BYTES wait and further lines are dropped.
 * A synchronous destination would block the event loop on a full pipe, so
 * every session would stall behind the log; an unbounded one would grow
 * without end.
 */
export function stderrDestination(): DestinationStream {
  return pino.destination({ dest: 2, sync: false, maxLength: MAX_PENDING_LOG_BYTES });
}
