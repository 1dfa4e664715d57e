import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OperatorError } from '../base/operator-error.js';
import type { Logger } from '../observability/logger.js';
import type { HealthVerdict } from './node-health.js';

/**
 * The node's operations listener (`--metrics-listen`, default
 * 127.0.0.1:9464, Prometheus' port for exporters): `GET /metrics` in the
 * Prometheus text format, `GET /healthz` and `GET /readyz` as one line of
 * plain text (`ok`, or what is wrong) with 200 or 503, or as JSON with
 * `?format=json`. Nothing else: 404, and 405 for another method on one of
 * these. Read-only; it carries no secret, so it needs no login, and it
 * listens on loopback unless told otherwise. `routes` adds more (the status
 * page, src/process/status-page/, with its own login).
 */

export const DEFAULT_METRICS_PORT = 9464;

export interface HttpEndpointHandlers {
  /** The Prometheus exposition and its content type. */
  metrics(): Promise<{ body: string; contentType: string }>;
  healthz(): Promise<HealthVerdict> | HealthVerdict;
  readyz(): Promise<HealthVerdict> | HealthVerdict;
}

export interface HttpEndpointOptions {
  readonly host: string;
  readonly port: number;
  readonly handlers: HttpEndpointHandlers;
  readonly log: Logger;
  /** More routes on this listener (the status page): asked first; true when it answered the request. */
  readonly routes?: HttpRoutes | undefined;
}

export type HttpRoutes = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface HttpEndpoint {
  readonly host: string;
  /** The port bound (resolved when 0 was asked for). */
  readonly port: number;
  /** `http://host:port` (IPv6 in brackets). */
  readonly url: string;
  close(): Promise<void>;
}

/** A slow or silent client gets this long to send its request (a scrape is one small GET). */
const REQUEST_TIMEOUT_MS = 10_000;

export async function startHttpEndpoint(options: HttpEndpointOptions): Promise<HttpEndpoint> {
  const log = options.log.child({ module: 'http' });
  const server = createServer((req, res) => void handle(req, res, options.handlers, options.routes).catch((err: unknown) => failed(res, err, log)));
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await listen(server, options.host, options.port);
  server.on('error', (err) => log.error({ event: 'http_error', err: err.message }, 'operations listener error'));
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  log.info({ event: 'http_listening', url }, 'metrics and health listening');
  return {
    host: options.host,
    port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive scrapers would hold close() open until their idle timeout.
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, handlers: HttpEndpointHandlers, routes?: HttpRoutes): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = url.pathname;
  if (routes && (await routes(req, res, url))) return;
  if (route !== '/metrics' && route !== '/healthz' && route !== '/readyz') return reply(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return reply(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (route === '/metrics') {
    const { body, contentType } = await handlers.metrics();
    return reply(res, 200, contentType, body, req.method === 'HEAD');
  }
  const verdict = await (route === '/healthz' ? handlers.healthz() : handlers.readyz());
  const status = verdict.ok ? 200 : 503;
  if (url.searchParams.get('format') === 'json') {
    const body = JSON.stringify({ status: verdict.ok ? 'ok' : 'unavailable', reason: verdict.reason, ...verdict.details });
    return reply(res, status, 'application/json', body + '\n', req.method === 'HEAD');
  }
  return reply(res, status, 'text/plain; charset=utf-8', verdict.reason + '\n', req.method === 'HEAD');
}

function reply(res: ServerResponse, status: number, contentType: string, body: string, headOnly = false): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(headOnly ? undefined : body);
}

function failed(res: ServerResponse, err: unknown, log: Logger): void {
  log.error({ event: 'http_handler_failed', err }, 'an operations request failed');
  if (res.headersSent) return void res.destroy();
  reply(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is already in use' : err.code === 'EADDRNOTAVAIL' ? 'the address is not on this machine' : (err.code ?? err.message);
      reject(new OperatorError(`cannot listen for metrics on ${host}:${port}: ${why} (--metrics-listen <host:port>, or --no-metrics)`));
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
