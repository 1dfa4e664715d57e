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
