export * from './transport.js';
export { MemoryNetwork, MemoryTransport } from './memory-transport.js';
export { TlsTransport, type TlsTransportOptions } from './tls-transport.js';
export type { PeerSecurity } from './peer-security.js';
export { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { FrameDecoder, FrameError, encodeFrame, encodeFrameHeader, type DecodedFrame, type WireKind } from './frame-codec.js';
