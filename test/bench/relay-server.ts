import { createServer, type Socket } from 'node:net';

/**
 * The physical limit: a byte relay that pipes the first connection to the
 * second and back, with no parsing at all. Prints `READY <port>`.
 */
let waiting: Socket | null = null;
const sockets = new Set<Socket>();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.setNoDelay(true);
  if (!waiting) {
    waiting = socket;
    return;
  }
  const a = waiting;
  waiting = null;
  a.pipe(socket);
  socket.pipe(a);
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`READY ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  for (const s of sockets) s.destroy();
});
