import type { Element } from '@xmpp/xml';
import { CallBridge, type ReceivedMessage } from '../../src/bridge/call-bridge.js';
import type { TestNode } from './test-node.js';

/** The next `event` (a received message by default) of a simulated call bridge, or a timeout. */
export function nextEvent<T = ReceivedMessage & Element>(bridge: CallBridge, event = 'message', timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bridge.address}: no ${event} within ${timeoutMs} ms`)), timeoutMs);
    bridge.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Connects call bridge `name` of the test node, on its first or second component port. */
export function connectBridge(t: TestNode, name: string, port: 0 | 1 = 0, options: { bareName?: boolean } = {}): Promise<CallBridge> {
  return CallBridge.connect({ name, secret: t.secrets[name]!, domain: 'example.test', host: '127.0.0.1', port: t.ports[port], ...options });
}
