import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'ltx';
import type { Element } from '@xmpp/xml';
import type { CallBridge } from '../../src/bridge/call-bridge.js';
import { COMPONENT_HEADER, RawClient, streamErrorCondition, authenticatedRaw as connectAuthenticated } from '../helpers/raw-client.js';
import { connectBridge, nextEvent } from '../helpers/bridges.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

/**
 * What a call bridge's stanza must be before it is routed, over real
 * sockets: namespace-well-formed XML (RFC 6120 §11.2), valid addresses
 * (RFC 7622), iqs by the rules of RFC 6120 §8.2.3, and elements within the
 * depth and attribute limits. What fails is refused with the condition the
 * RFC names, never reaches the addressee, and leaves the others routing.
 */

let t: TestNode;
let cb1: CallBridge;
/** The addressee, read raw so that what arrives can be compared byte for byte. */
let cb2: RawClient;

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const unique = () => Math.random().toString(36).slice(2);

const authenticatedRaw = (name: string): Promise<RawClient> => connectAuthenticated(t.ports[0], name, t.secrets[name]!);

/**
 * Whether `text` reached cb2. A marker sent by cb1 afterwards arrives after
 * anything the server routed before it, so once the marker is in, the answer is final.
 */
async function reachedCb2(text: string): Promise<boolean> {
  const marker = `marker-${unique()}`;
  await cb1.sendMessage('cb2.example.test', marker);
  await cb2.waitFor(marker);
  return cb2.received.includes(text);
}

/** The stanzas `c` received after its handshake, parsed; throws while one is still arriving. */
function stanzasOf(c: RawClient): Element[] {
  const after = c.received.slice(c.received.indexOf('<handshake/>') + '<handshake/>'.length);
  return (parse(`<r>${after}</r>`) as unknown as Element).getChildElements();
}

/** The stanzas `c` received after its handshake, once there are `count`. */
async function stanzasAt(c: RawClient, count: number): Promise<Element[]> {
  const enough = () => {
    try {
      return stanzasOf(c).length >= count;
    } catch {
      return false;
    }
  };
  // waitFor takes anything with test(): here, a check on the parsed stanzas.
  await c.waitFor({ test: enough } as unknown as RegExp);
  return stanzasOf(c);
}

/** A ping to the server: once its answer is in, `c` has all the server sent it before. */
async function pingServer(c: RawClient): Promise<Element[]> {
  const id = `ping-${unique()}`;
  const before = stanzasOf(c).length;
  c.send(`<iq type='get' id='${id}' from='cb3.example.test' to='example.test'><ping xmlns='urn:xmpp:ping'/></iq>`);
  const all = await stanzasAt(c, before + 1);
  expect(all[all.length - 1]!.attrs).toMatchObject({ type: 'result', id });
  return all.slice(0, -1);
}

function conditionOf(reply: Element): string | undefined {
  return reply.getChild('error')?.children.find((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === NS_STANZAS && c.name !== 'text')?.name;
}

/** cb1 and cb2 still route both ways. */
async function stillRouting(): Promise<void> {
  await reachedCb2('');
  const tag = unique();
  const at1 = nextEvent(cb1);
  cb2.send(`<message from='cb2.example.test' to='cb1.example.test'><body>back ${tag}</body></message>`);
  expect((await at1).body).toBe(`back ${tag}`);
}

beforeAll(async () => {
  t = await startTestNode({
    callbridges: { cb1: 'secret-one-1234567890', cb2: 'secret-two-1234567890', cb3: 'secret-three-123456789' },
    sessionOptions: { maxDepth: 16, maxAttributes: 32 },
  });
  cb1 = await connectBridge(t, 'cb1', 0);
  cb2 = await authenticatedRaw('cb2');
});

afterAll(async () => {
  cb2?.destroy();
  await cb1?.close();
  await t?.close();
});

describe('namespace well-formedness (RFC 6120 §11.2, §4.9.3.13)', () => {
  it.each([
    ['an undeclared element prefix', (tag: string) => `<message from='cb3.example.test' to='cb2.example.test'><body>${tag}</body><foo:bar/></message>`],
    ['an undeclared attribute prefix', (tag: string) => `<message from='cb3.example.test' to='cb2.example.test'><body>${tag}</body><x a:b='1'/></message>`],
    ['a declaration of the xmlns prefix', (tag: string) => `<message from='cb3.example.test' to='cb2.example.test'><body>${tag}</body><x xmlns:xmlns='urn:bad'/></message>`],
    ['a prefix bound to the empty string', (tag: string) => `<message from='cb3.example.test' to='cb2.example.test'><body>${tag}</body><p:x xmlns:p=''/></message>`],
    ['xml bound to another namespace', (tag: string) => `<message from='cb3.example.test' to='cb2.example.test'><body>${tag}</body><x xmlns:xml='urn:not-xml'/></message>`],
    ['one attribute twice once prefixes are expanded', (tag: string) => `<message from='cb3.example.test' to='cb2.example.test'><body>${tag}</body><x xmlns:p='urn:u' xmlns:q='urn:u' p:a='1' q:a='2'/></message>`],
  ])('ends the stream with not-well-formed for %s, and routes nothing', async (_what, stanza) => {
    const c = await authenticatedRaw('cb3');
    const tag = unique();
    c.send(stanza(tag));
    expect(streamErrorCondition(await c.untilClosed())).toBe('not-well-formed');
    expect(await reachedCb2(tag)).toBe(false);
    await stillRouting();
  });

  it('routes xml:lang, declared prefixes and stream: from the header unchanged', async () => {
    const c = await authenticatedRaw('cb3');
    const stanza = `<message from='cb3.example.test' to='cb2.example.test' xml:lang='en'><body xml:lang='de'>${unique()}</body><p:x xmlns:p='urn:p' p:a='1'><p:y/></p:x></message>`;
    c.send(stanza);
    await cb2.waitFor(stanza);
    c.send('<stream:error><system-shutdown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>');
    // A stream error from the peer ends the stream cleanly: it is taken, not refused.
    expect(streamErrorCondition(await c.untilClosed())).toBeNull();
  });
});

describe('addresses (RFC 7622)', () => {
  it.each([
    ['a space in the local part', 'a b@cb2.example.test'],
    ['an empty local part', '@cb2.example.test'],
    ['an empty resource', 'cb2.example.test/'],
    ['a 3,000-character domain', `${`${'a'.repeat(59)}.`.repeat(50)}test`],
    ['two @', 'a@b@cb2.example.test'],
  ])("answers jid-malformed (type modify) for a 'to' with %s, from the server, and routes nothing", async (_what, to) => {
    const c = await authenticatedRaw('cb3');
    const tag = unique();
    c.send(`<message from='cb3.example.test/r' to='${to}' id='${tag}'><body>${tag}</body></message>`);
    const [reply] = await stanzasAt(c, 1);
    expect(reply!.attrs).toMatchObject({ type: 'error', from: 'example.test', to: 'cb3.example.test/r', id: tag });
    expect(reply!.getChild('error')?.attrs.type).toBe('modify');
    expect(conditionOf(reply!)).toBe('jid-malformed');
    expect(await reachedCb2(tag)).toBe(false);
    // The session stays up.
    c.send(`<message from='cb3.example.test' to='cb2.example.test'><body>after ${tag}</body></message>`);
    await cb2.waitFor(`after ${tag}`);
    c.destroy();
  });

  it("answers jid-malformed to the component itself for a malformed 'from' in its own domain", async () => {
    const c = await authenticatedRaw('cb3');
    const tag = unique();
    c.send(`<message from='a b@cb3.example.test' to='cb2.example.test' id='${tag}'><body>${tag}</body></message>`);
    const [reply] = await stanzasAt(c, 1);
    expect(reply!.attrs).toMatchObject({ type: 'error', from: 'example.test', to: 'cb3.example.test', id: tag });
    expect(conditionOf(reply!)).toBe('jid-malformed');
    expect(await reachedCb2(tag)).toBe(false);
    c.destroy();
  });

  it("ends the stream with invalid-from for a 'from' whose domain part is malformed", async () => {
    const c = await authenticatedRaw('cb3');
    c.send(`<message from='a@b@cb3.example.test' to='cb2.example.test'><body>x</body></message>`);
    expect(streamErrorCondition(await c.untilClosed())).toBe('invalid-from');
    await stillRouting();
  });

  it('never answers a malformed error stanza with an error', async () => {
    const c = await authenticatedRaw('cb3');
    c.send(`<message type='error' from='cb3.example.test' to='a b@cb2.example.test' id='e1'><error type='cancel'><gone xmlns='${NS_STANZAS}'/></error></message>`);
    c.send(`<message type='error' from='a b@cb3.example.test' to='cb2.example.test' id='e2'><error type='cancel'><gone xmlns='${NS_STANZAS}'/></error></message>`);
    expect(await pingServer(c)).toEqual([]);
    expect(await reachedCb2("id='e1'")).toBe(false);
    expect(cb2.received).not.toContain("id='e2'");
    c.destroy();
  });

  it('routes a domain with a final dot to the component without it (RFC 7622 §3.2)', async () => {
    const c = await authenticatedRaw('cb3');
    const tag = unique();
    c.send(`<message from='cb3.example.test' to='room@cb2.example.test.'><body>${tag}</body></message>`);
    await cb2.waitFor(tag);
    c.destroy();
  });
});

describe('iq rules (RFC 6120 §8.2.3)', () => {
  const ping = `<ping xmlns='urn:xmpp:ping'/>`;
  it.each([
    ['a get without id, to a component', (tag: string) => `<iq type='get' from='cb3.example.test' to='cb2.example.test'><q xmlns='urn:${tag}'/></iq>`, undefined],
    ['a get without id, to the server', () => `<iq type='get' from='cb3.example.test' to='example.test'>${ping}</iq>`, undefined],
    ['a get with two payloads', (tag: string) => `<iq type='get' id='${tag}' from='cb3.example.test' to='example.test'>${ping}${ping}</iq>`, 'tag'],
    ['a set with no payload', (tag: string) => `<iq type='set' id='${tag}' from='cb3.example.test' to='example.test'/>`, 'tag'],
    ['a set with two payloads, to a component', (tag: string) => `<iq type='set' id='${tag}' from='cb3.example.test' to='cb2.example.test'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>`, 'tag'],
    ['a result with two children', (tag: string) => `<iq type='result' id='${tag}' from='cb3.example.test' to='cb2.example.test'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>`, 'tag'],
    ['an iq with no type', (tag: string) => `<iq id='${tag}' from='cb3.example.test' to='cb2.example.test'><a xmlns='urn:a'/></iq>`, 'tag'],
  ])('answers bad-request (type modify) for %s, and routes nothing', async (_what, iq, withId) => {
    const c = await authenticatedRaw('cb3');
    const tag = unique();
    c.send(iq(tag));
    const [reply] = await stanzasAt(c, 1);
    expect(reply!.name).toBe('iq');
    expect(reply!.attrs).toMatchObject({ type: 'error', from: 'example.test', to: 'cb3.example.test' });
    // Without an id to echo, the error carries none.
    expect(reply!.attrs.id).toBe(withId ? tag : undefined);
    expect(reply!.getChild('error')?.attrs.type).toBe('modify');
    expect(conditionOf(reply!)).toBe('bad-request');
    expect(await reachedCb2(tag)).toBe(false);
    c.destroy();
  });

  it('routes a result with no child or one, and an error without answering it', async () => {
    const c = await authenticatedRaw('cb3');
    const iqs = [
      `<iq type='result' id='r0-${unique()}' from='cb3.example.test' to='cb2.example.test'/>`,
      `<iq type='result' id='r1-${unique()}' from='cb3.example.test' to='cb2.example.test'><q xmlns='urn:q'/></iq>`,
      `<iq type='error' from='cb3.example.test' to='cb2.example.test'/>`,
    ];
    c.send(iqs.join(''));
    for (const iq of iqs) await cb2.waitFor(iq);
    expect(await pingServer(c)).toEqual([]);
    c.destroy();
  });
});

describe('depth and attribute limits', () => {
  const nested = (levels: number, tag: string) => `<message from='cb3.example.test' to='cb2.example.test'><body>${tag}</body>${'<a>'.repeat(levels - 1)}${'</a>'.repeat(levels - 1)}</message>`;
  const attributes = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}='1'`).join('');

  it('routes a stanza at the configured depth and attribute limits', async () => {
    const c = await authenticatedRaw('cb3');
    const tag = unique();
    c.send(nested(16, tag));
    c.send(`<message from='cb3.example.test' to='cb2.example.test'><body>${tag}-wide</body><x${attributes(32)}/></message>`);
    await cb2.waitFor(`${tag}-wide`);
    expect(cb2.received).toContain(`<body>${tag}</body>`);
    c.destroy();
  });

  it.each([
    ['one level deeper than the limit', (tag: string) => nested(17, tag)],
    ['10,000 levels', (tag: string) => nested(10_000, tag)],
    ['one attribute more than the limit', (tag: string) => `<message from='cb3.example.test' to='cb2.example.test'><body>${tag}</body><x${attributes(33)}/></message>`],
    ['4,000 attributes on the stanza', (tag: string) => `<message from='cb3.example.test' to='cb2.example.test'${attributes(4000)}><body>${tag}</body></message>`],
  ])('ends the stream with policy-violation for %s, and routes nothing', async (_what, stanza) => {
    const c = await authenticatedRaw('cb3');
    const tag = unique();
    c.send(stanza(tag));
    expect(streamErrorCondition(await c.untilClosed())).toBe('policy-violation');
    expect(await reachedCb2(tag)).toBe(false);
    await stillRouting();
  });

  it('ends the stream with policy-violation for a stream header with too many attributes', async () => {
    const c = await RawClient.connect(t.ports[1]);
    c.send(`${COMPONENT_HEADER('cb3.example.test').slice(0, -1)}${attributes(1000)}>`);
    expect(streamErrorCondition(await c.untilClosed())).toBe('policy-violation');
    await stillRouting();
  });
});
