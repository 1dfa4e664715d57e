import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Element } from '@xmpp/xml';

/**
 * A call bridge as the server sees one: an XEP-0114 component. Built on
 * xmpp.js's @xmpp/component-core, a client we did not write, so tests and
 * benchmarks exercise the server with an independent implementation.
 */

const require = createRequire(import.meta.url);
// component-core is CommonJS without types; we use its small documented surface.
const { Component, xml } = require('@xmpp/component-core') as {
  Component: new (options: { service: string; domain: string }) => XmppComponent;
  xml: (name: string, attrs?: Record<string, string>, ...children: unknown[]) => Element;
};

interface XmppComponent extends EventEmitter {
  status: string;
  connect(service: string): Promise<void>;
  open(options: { domain: string }): Promise<Element>;
  authenticate(id: string, secret: string): Promise<void>;
  send(element: Element): Promise<void>;
  stop(): Promise<void>;
  socketParameters(service: string): Record<string, unknown> | undefined;
}

export interface CallBridgeOptions {
  /** The call bridge's name, e.g. cb1. */
  name: string;
  secret: string;
  /** The XMPP domain, e.g. example.test; the component address is `<name>.<domain>`. */
  domain: string;
  host: string;
  port: number;
  /** The source address to connect from (tests: call bridges behind different addresses). */
  localAddress?: string;
  /** Ask for the bare name in the stream header, as a CMS call bridge does. */
  bareName?: boolean;
  /** Answer every message with the same body. */
  echo?: boolean;
  /**
   * Answer every iq get or set, as RFC 6120 §8.2.3 requires of any entity:
   * an XEP-0199 ping with a result, anything else with
   * `<service-unavailable/>`. Off by default: tests of the server see every
   * iq the bridge is sent, unanswered.
   */
  answerIq?: boolean;
  timeoutMs?: number;
  /**
   * Receives messages from the moment the stream opens: a server may write
   * stanzas held for this call bridge right after `<handshake/>`, in the
   * same read, before `connect` has resolved and a listener could be added.
   */
  onMessage?: (message: ReceivedMessage) => void;
}

export interface ReceivedMessage {
  from: string;
  to: string;
  id?: string;
  type?: string;
  body: string;
  /** The stanza's error condition, when it is a bounce. */
  error?: string;
}

/** A stream error or refused handshake, with the server's condition; or a socket failure, with its code. */
export class CallBridgeConnectError extends Error {
  constructor(
    message: string,
    readonly condition: string | undefined,
    /** The socket's error code (ECONNREFUSED ...), or ETIMEDOUT when connecting and the handshake took too long. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CallBridgeConnectError';
  }
}

export class CallBridge extends EventEmitter {
  readonly address: string;
  private constructor(
    private readonly entity: XmppComponent,
    readonly options: CallBridgeOptions,
  ) {
    super();
    this.address = `${options.name}.${options.domain}`.toLowerCase();
  }

  /** Connects and authenticates; rejects with the server's condition if refused. */
  static async connect(options: CallBridgeOptions): Promise<CallBridge> {
    const service = `xmpp://${options.host}:${options.port}`;
    const address = `${options.name}.${options.domain}`;
    const entity = new Component({ service, domain: options.bareName ? options.name : address });
    const bridge = new CallBridge(entity, options);
    if (options.localAddress) {
      // connection-tcp builds net.connect's options here; it has no setting for the source address.
      const parameters = entity.socketParameters.bind(entity);
      entity.socketParameters = (s) => ({ ...parameters(s), localAddress: options.localAddress });
    }
    if (options.onMessage) bridge.on('message', options.onMessage);
    entity.on('stanza', (el: Element) => bridge.onStanza(el));
    entity.on('error', (err: Error & { condition?: string }) => bridge.emit('stream-error', err));
    entity.on('status', (status: string) => {
      if (status === 'disconnect' || status === 'offline') bridge.emit('disconnected', status);
    });

    const timeoutMs = options.timeoutMs ?? 10_000;
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        const fail = (err: Error & { condition?: string; code?: string }) => {
          const condition = err.condition;
          const reason = condition === 'not-authorized' ? 'authentication failure' : condition ?? err.message;
          reject(new CallBridgeConnectError(`XMPP connection failed to connect to ${options.host} due to ${reason}`, condition, err.code));
        };
        entity.once('error', fail);
        entity.once('open', (el: Element) => {
          entity.authenticate(String(el.attrs.id), options.secret).then(() => {
            entity.removeListener('error', fail);
            resolve();
          }, fail);
        });
        entity.once('disconnect', () => fail(new Error('the server closed the connection')));
        // One handler for both steps: a stream header that never comes must not become an unhandled rejection.
        entity
          .connect(service)
          .then(() => entity.open({ domain: options.bareName ? options.name : address }))
          .catch(fail);
      }),
      timeoutMs,
      `XMPP connection failed to connect to ${options.host} due to timeout`,
    ).catch(async (err) => {
      // No session to close politely: a graceful stop would wait for a silent peer's close.
      (entity as unknown as { socket?: { destroy(): void } }).socket?.destroy();
      await entity.stop().catch(() => undefined);
      throw err;
    });
    return bridge;
  }

  get online(): boolean {
    return this.entity.status === 'online';
  }

  /** Sends a chat message; `to` is a JID (`cb2.example.test`, `user@cb2.example.test`). */
  async sendMessage(to: string, body: string, id?: string): Promise<void> {
    const attrs: Record<string, string> = { to, from: this.address, type: 'chat' };
    if (id) attrs.id = id;
    await this.entity.send(xml('message', attrs, xml('body', {}, body)));
  }

  /** Sends any element (for tests of what the server refuses). */
  async sendElement(element: Element): Promise<void> {
    await this.entity.send(element);
  }

  async close(): Promise<void> {
    await this.entity.stop().catch(() => undefined);
  }

  private answerIq(el: Element): void {
    const answer = iqAnswer(el);
    if (answer) void this.entity.send(answer).catch(() => undefined);
  }

  private onStanza(el: Element): void {
    this.emit('stanza', el);
    if (el.name === 'iq' && this.options.answerIq) return this.answerIq(el);
    if (el.name !== 'message') return;
    const errorEl = el.getChild('error');
    const condition = errorEl?.children.find((c): c is Element => typeof c !== 'string')?.name;
    const message: ReceivedMessage = {
      from: String(el.attrs.from ?? ''),
      to: String(el.attrs.to ?? ''),
      id: el.attrs.id as string | undefined,
      type: el.attrs.type as string | undefined,
      body: el.getChildText('body') ?? '',
      error: condition,
    };
    this.emit('message', message);
    if (this.options.echo && message.type !== 'error') {
      void this.sendMessage(message.from, message.body, message.id).catch(() => undefined);
    }
  }
}

function iqAnswer(el: Element): Element | undefined {
  const { type, id, from, to } = el.attrs as Record<string, string | undefined>;
  if ((type !== 'get' && type !== 'set') || !from) return undefined;
  const attrs: Record<string, string> = { type: 'result', to: from, ...(to ? { from: to } : {}), ...(id ? { id } : {}) };
  if (el.getChild('ping', 'urn:xmpp:ping')) return xml('iq', attrs);
  return xml('iq', { ...attrs, type: 'error' }, xml('error', { type: 'cancel' }, xml('service-unavailable', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' })));
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new CallBridgeConnectError(message, undefined, 'ETIMEDOUT')), ms);
    }),
  ]);
}
