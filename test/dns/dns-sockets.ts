import dgram from 'node:dgram';
import net from 'node:net';

/** Raw clients for what dig will not send: junk, floods, split TCP frames. */

export interface UdpClient {
  readonly received: Buffer[];
  send(packet: Buffer, to: { address: string; port: number }): Promise<void>;
  close(): Promise<void>;
}

export async function udpClient(localAddress: string): Promise<UdpClient> {
  const socket = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (msg) => received.push(msg));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: localAddress, port: 0 }, () => resolve());
  });
  return {
    received,
    send: (packet, to) => new Promise((resolve, reject) => socket.send(packet, to.port, to.address, (err) => (err ? reject(err) : resolve()))),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

export interface TcpClient {
  readonly socket: net.Socket;
  /** Messages received, their length prefixes taken off. */
  readonly messages: Buffer[];
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
  write(bytes: Buffer): Promise<void>;
}

export async function tcpClient(server: { address: string; port: number }, localAddress: string): Promise<TcpClient> {
  const socket = net.connect({ host: server.address, port: server.port, localAddress });
  socket.setNoDelay(true);
  const messages: Buffer[] = [];
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
      messages.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
      pending = pending.subarray(2 + pending.readUInt16BE(0));
    }
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    messages,
    closed,
    write: (bytes) => new Promise((resolve, reject) => socket.write(bytes, (err) => (err ? reject(err) : resolve()))),
  };
}

/** A DNS message with its two-byte TCP length prefix (RFC 1035 §4.2.2). */
export function framed(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length);
  return Buffer.concat([prefix, message]);
}
