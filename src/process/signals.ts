import type { Logger } from '../observability/logger.js';

/** Resolves on SIGINT or SIGTERM, with the signal: the node then shuts down gracefully (shutdown.ts). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (signal: NodeJS.Signals) => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(signal);
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

/**
 * While a graceful shutdown runs, a second SIGINT or SIGTERM (an impatient
 * operator, a supervisor's second try) ends the process at once, with a line
 * that says so rather than the silent default.
 */
export function exitOnSecondSignal(log: Logger): void {
  const force = (signal: NodeJS.Signals) => {
    log.warn({ module: 'process', event: 'shutdown_forced', signal }, 'second signal: exiting without finishing the shutdown');
    exitAfterLog(log, 1);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
}

/** Exits once the log lines written so far are out (the stderr destination writes asynchronously). */
export function exitAfterLog(log: Logger, code: number): void {
  log.flush(() => process.exit(code));
  // A reader that stopped reading must not keep the process alive.
  setTimeout(() => process.exit(code), 1000).unref();
}
