import { createServer } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { TlsTransport } from '../../../cluster/transport/tls-transport.js';
import { makeLabPki, type LabPki } from './lab-pki.js';
import { LogCapture } from './log-capture.js';
import { transportBehaviour } from './transport-behaviour.js';

let pki: LabPki;
beforeAll(async () => {
  pki = await makeLabPki();
});
afterAll(async () => {
  await pki?.remove();
});

transportBehaviour('TlsTransport', () => {
  const log = new LogCapture();
  return {
    create: (id, endpoint) =>
      new TlsTransport({
        self: { id, name: `node-${id}`, endpoint: endpoint ?? { host: '127.0.0.1', port: 0 } },
        security: () => pki.security(pki.node),
        log: log.logger,
        backoff: { minMs: 20, maxMs: 200 },
      }),
    deadEndpoint: () =>
      new Promise((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => {
          const { port } = server.address() as { port: number };
          server.close(() => resolve({ host: '127.0.0.1', port }));
        });
      }),
  };
});
