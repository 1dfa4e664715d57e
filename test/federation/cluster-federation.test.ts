import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CallBridge } from '../../src/bridge/call-bridge.js';
import { nextEvent } from '../helpers/bridges.js';
import { Condition } from '../helpers/condition.js';
import { type ClusterNodeProcess, expectOk, PROCESS_TEST_TIMEOUT_MS } from '../helpers/cluster-processes.js';
import { DOMAIN, logAfter } from '../helpers/cluster-setup.js';
import { withPeerLogs } from '../helpers/federation-exchange.js';
import {
  addCallBridge,
  agreedLeader,
  bridgeOn,
  type FederatedCluster,
  federatedCluster,
  NumberedInbox,
  parseConnections,
  PROSODY_COMPONENT,
  PROSODY_DOMAIN,
  prosodyComponent,
} from '../helpers/federation-cluster.js';

/**
 * Issue 15, "In a cluster": three real node processes (cb1 leads, cb2 and
 * cb3 follow; the node names are the harness's, the call bridges are
 * cb1/cb2.example.test) federating with a real Prosody (other.test, its
 * component cb.other.test) through a real BIND. Prosody finds example.test
 * and cb1.example.test at node cb2 and cb2.example.test at node cb3, so its
 * streams land on followers: what arrives there is forwarded through the
 * leader, db:verify is answered by a node that never issued the key, and the
 * leader's outgoing streams are replaced by the next leader's after a kill -9.
 */

let cluster: FederatedCluster;
let leader: ClusterNodeProcess;
/** Prosody's landing node for example.test and cb1.example.test. */
let b: ClusterNodeProcess;
/** Where call bridge cb1 is connected; Prosody finds cb2.example.test here. */
let c: ClusterNodeProcess;
const CB1 = `cb1.${DOMAIN}`;
/** The numbered stream each way; the leader is killed right after cb1 has written number KILL_AT, so stanzas are in flight both ways. */
const TOTAL = 200;
const KILL_AT = 50;
/** Between two sends: a steady stream still flowing through the kill and the election (the traffic's rate, not a wait for an outcome). */
const PACE_MS = 5;
const CB2 = `cb2.${DOMAIN}`;
const CB3 = `cb3.${DOMAIN}`;

beforeAll(async () => {
  cluster = await federatedCluster(([, second, third]) => ({ [DOMAIN]: second!, [CB1]: second!, [CB2]: third! }));
  [leader, b, c] = cluster.nodes as [ClusterNodeProcess, ClusterNodeProcess, ClusterNodeProcess];
}, 180_000);

afterAll(async () => {
  await cluster?.close();
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close().catch(() => undefined);
});

/** Our nodes' and Prosody's logs, appended to a failure: they say which stream did not come up, and why. */
function logsOf(): Array<{ domain: string; log(): string }> {
  return [cluster.prosody, ...cluster.nodes.map((n) => ({ domain: `node ${n.name}`, log: () => n.log }))];
}

async function connected<T extends CallBridge>(bridge: Promise<T>): Promise<T> {
  const b = await bridge;
  cleanups.push(() => b.close());
  return b;
}

/** Every member's `xmpp federation status`, once they all print `expected` (replication has no event a test can wait on). */
async function statusEverywhere(expected: RegExp, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = await Promise.all(cluster.nodes.map((n) => expectOk(n, 'xmpp federation status')));
    if (seen.every((s) => expected.test(s))) return seen;
  }
  throw new Error(`not every member's federation status matches ${expected}:\n${seen.join('\n---\n')}`);
}

/** `<prefix>1` ... `<prefix><total>`, body and id alike, paced; `sent.count` follows; `afterSend(i)` runs as soon as number i is written. */
async function sendNumbered(from: CallBridge, to: string, prefix: string, total: number, sent: { count: number }, afterSend: (i: number) => Promise<void> = async () => undefined): Promise<void> {
  for (let i = 1; i <= total; i++) {
    await from.sendMessage(to, `${prefix}${i}`, `${prefix}${i}`);
    sent.count = i;
    await afterSend(i);
    await new Promise((resolve) => setTimeout(resolve, PACE_MS));
  }
}

describe('federation in a cluster, with a real Prosody', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('settings typed on any member are the cluster\'s: a follower\'s `xmpp federation status` and lists are the leader\'s', async () => {
    expect(await agreedLeader(cluster.nodes)).toBe(leader);
    expect(await expectOk(leader, 'xmpp federation enable')).toBe('');
    expect(await expectOk(b, `xmpp federation allow add ${PROSODY_DOMAIN}`)).toBe('');
    expect(await expectOk(c, `xmpp federation allow add ${PROSODY_COMPONENT}`)).toBe('');
    const [onLeader, ...onFollowers] = await statusEverywhere(/^Allow list\s+: 2 domains$/m);
    expect(onLeader).toMatch(/^Federation\s+: enabled$/m);
    expect(onLeader).toMatch(/^Dialback secret\s+: set$/m);
    expect(onLeader).toMatch(/^Security mode\s+: TLS required$/m);
    expect(onLeader).toMatch(/^Privacy mode\s+: Allow list$/m);
    for (const s of onFollowers) expect(s).toBe(onLeader);
    for (const n of cluster.nodes) {
      expect(await expectOk(n, 'xmpp federation allow list')).toMatch(new RegExp(`^${PROSODY_COMPONENT.replace(/\./g, '\\.')}\\s+both\\n${PROSODY_DOMAIN.replace(/\./g, '\\.')}\\s+both\\n?$`));
    }
  });

  it('a stream Prosody opens to a follower delivers to a call bridge on another follower; the reply leaves by the leader\'s outgoing stream; every member lists both', async () => {
    const ours = await connected(bridgeOn(c, 'cb1', cluster.cb1Secret));
    const theirs = await connected(prosodyComponent(cluster.prosody));
    const fromB = b.log.length;
    await withPeerLogs(logsOf(), async () => {
      const here = nextEvent(ours, 'message', 30_000);
      await theirs.sendMessage(CB1, 'to a follower', 'in-1');
      expect(await here).toMatchObject({ from: PROSODY_COMPONENT, to: CB1, body: 'to a follower', id: 'in-1' });
      // Prosody's stream came in on the follower its DNS names, not on the leader or the call bridge's node.
      await logAfter(b, fromB, new RegExp(`"event":"connection-opened"[^\\n]*"domain":"${PROSODY_COMPONENT.replace(/\./g, '\\.')}"[^\\n]*"direction":"incoming"`), 5_000);

      const there = nextEvent(theirs, 'message', 30_000);
      await ours.sendMessage(PROSODY_COMPONENT, 'from the other follower', 'out-1');
      expect(await there).toMatchObject({ from: CB1, to: PROSODY_COMPONENT, body: 'from the other follower', id: 'out-1' });

      for (const n of cluster.nodes) {
        const rows = parseConnections(await expectOk(n, 'xmpp federation connections'));
        const mine = rows.filter((r) => r.domain === PROSODY_COMPONENT);
        expect({ on: n.name, rows: mine.map((r) => [r.direction, r.node, r.auth, r.security.startsWith('TLS 1.')]) }).toEqual({
          on: n.name,
          rows: expect.arrayContaining([
            ['Incoming', b.name, 'dialback', true],
            ['Outgoing', leader.name, 'dialback', true],
          ]),
        });
        // Only the leader opens outgoing streams (federation.md, "Cluster").
        expect(rows.filter((r) => r.direction === 'Outgoing').map((r) => r.node)).toEqual(rows.filter((r) => r.direction === 'Outgoing').map(() => leader.name));
      }
    });
  });

  it('Prosody\'s db:verify for a key the leader issued is answered by a follower from the replicated secret, and the stream authenticates', async () => {
    const cb2 = await connected(bridgeOn(leader, 'cb2', await addCallBridge(leader, 'cb2')));
    const theirs = await connected(prosodyComponent(cluster.prosody));
    const fromLeader = leader.log.length;
    const fromC = c.log.length;
    await withPeerLogs(logsOf(), async () => {
      const there = nextEvent(theirs, 'message', 30_000);
      await cb2.sendMessage(PROSODY_COMPONENT, 'key from the leader', 'dv-1');
      expect(await there).toMatchObject({ from: CB2, body: 'key from the leader', id: 'dv-1' });
      // The leader sent the key for cb2.example.test; the follower Prosody's DNS names for it answered the db:verify.
      await logAfter(leader, fromLeader, /"event":"dialback-sent"[^\n]*/, 5_000);
      const answered = await logAfter(c, fromC, /\{[^\n]*"event":"dialback-verified"[^\n]*"role":"authoritative"[^\n]*/, 5_000);
      expect(JSON.parse(answered)).toMatchObject({ module: 'XMPPFederation', event: 'dialback-verified', role: 'authoritative', domain: PROSODY_COMPONENT, localDomain: CB2, direction: 'incoming', node: c.name });
      expect(leader.log.slice(fromLeader)).not.toMatch(/"role":"authoritative"/);
      // Prosody's own account (its log is written behind the stanzas, so waited for): node cb3 answered its db:verify, and the leader's stream is authenticated for cb2.example.test.
      const cb2Name = CB2.replace(/\./g, '\\.');
      await cluster.prosody.waitForLog(new RegExp(`Received\\[s2sout[^\\]]*\\]: <verify (?=[^>]*type='valid')(?=[^>]*from='${cb2Name}')`), 10_000);
      await cluster.prosody.waitForLog(new RegExp(`connection ${cb2Name}->cb\\.other\\.test is now authenticated for ${cb2Name}`), 10_000);
      for (const n of cluster.nodes) expect(n.log).not.toMatch(/[0-9a-f]{64}/);
    });
  });

  it('kill -9 of the leader mid-exchange: the next leader opens its own outgoing stream on demand, Prosody\'s stream to a surviving follower keeps delivering, nothing is lost either way', async ({ annotate }) => {
    expect(await agreedLeader(cluster.nodes)).toBe(leader);
    const changed = new Condition();
    const atCb1 = new NumberedInbox('p2c-', changed);
    const atProsody = new NumberedInbox('c2p-', changed);
    const ours = await connected(bridgeOn(c, 'cb1', cluster.cb1Secret, atCb1.take));
    const theirs = await connected(prosodyComponent(cluster.prosody, atProsody.take));
    await withPeerLogs(logsOf(), async () => {
      // Both paths are up before the numbered traffic: the leader's outgoing stream, and Prosody's incoming one on node cb2.
      const warmThere = nextEvent(theirs, 'message', 30_000);
      await ours.sendMessage(PROSODY_COMPONENT, 'warm-up', 'warm-out');
      expect(await warmThere).toMatchObject({ body: 'warm-up' });
      const warmHere = nextEvent(ours, 'message', 30_000);
      await theirs.sendMessage(CB1, 'warm-up', 'warm-in');
      expect(await warmHere).toMatchObject({ body: 'warm-up' });

      const fromB = b.log.length;
      const fromC = c.log.length;
      const sentByCb1 = { count: 0 };
      const sentByProsody = { count: 0 };
      const report = () =>
        `cb1 -> Prosody: ${atProsody.summary(TOTAL, atCb1.bouncesOf('c2p-'))}\nProsody -> cb1: ${atCb1.summary(TOTAL, atProsody.bouncesOf('p2c-'))}`;
      let killedAt = '';
      const killLeader = async (i: number) => {
        if (i !== KILL_AT) return;
        // At once, not after the arrivals: what cb1 and Prosody just wrote is on its way through the leader.
        killedAt = `cb1 had sent ${sentByCb1.count} (${atProsody.distinct} arrived), Prosody ${sentByProsody.count} (${atCb1.distinct} arrived)`;
        changed.changed();
        await leader.kill('SIGKILL');
      };
      const sending = Promise.all([sendNumbered(ours, PROSODY_COMPONENT, 'c2p-', TOTAL, sentByCb1, killLeader), sendNumbered(theirs, CB1, 'p2c-', TOTAL, sentByProsody)]);
      sending.catch(() => undefined); // awaited below, where a failed send fails the test
      await changed.until(() => killedAt !== '', 30_000, () => `cb1 did not get to ${KILL_AT}: ${report()}`);
      const next = await agreedLeader([b, c]);
      await sending;
      // Bounded: what is still missing then is reported as lost below, with the counts.
      await changed.until(() => atProsody.missing(TOTAL).length === 0 && atCb1.missing(TOTAL).length === 0, 60_000, report).catch(() => undefined);
      const outcome = report();
      const atKill = `when ${leader.name} was killed ${killedAt}; new leader ${next.name}`;
      // Reported, not hidden: duplicates are allowed (a survivor may deliver again what the dead leader had passed on unconfirmed), losses are not.
      await annotate(`${atKill}\n${outcome}`);
      console.info(`[cluster federation, kill -9 of the leader] ${atKill}\n${outcome}`);
      expect(atProsody.missing(TOTAL), outcome).toEqual([]);
      expect(atCb1.missing(TOTAL), outcome).toEqual([]);
      expect(atCb1.bouncesOf('c2p-'), outcome).toEqual([]);
      expect(atProsody.bouncesOf('p2c-'), outcome).toEqual([]);

      // The new leader opened its own outgoing stream (on demand: the first stanza after its election), Prosody's stream into cb2 carried on.
      const nextFrom = next === b ? fromB : fromC;
      await logAfter(next, nextFrom, new RegExp(`"event":"connection-opened"[^\\n]*"domain":"${PROSODY_COMPONENT.replace(/\./g, '\\.')}"[^\\n]*"direction":"outgoing"`), 5_000);
      const rows = parseConnections(await expectOk(next === b ? c : b, 'xmpp federation connections')).filter((r) => r.domain === PROSODY_COMPONENT);
      expect([...new Set(rows.filter((r) => r.direction === 'Outgoing').map((r) => r.node))]).toEqual([next.name]);
      expect(rows.filter((r) => r.direction === 'Incoming').map((r) => r.node)).toContain(b.name);
      expect(rows.map((r) => r.node)).not.toContain(leader.name);
    });
  });

  it('kill -9 of the leader while its outgoing stream for a new domain is still authenticating: what it had queued is sent by the next leader', async ({ annotate }) => {
    // Fails today with 1 lost (the first stanza): the old leader confirms a remote-domain stanza to its origin member once
    // the FederationService has queued it, not once it is written to an authenticated stream; the lead's change to that confirm fixes it.
    // The node killed above comes back as a follower; the leader now is cb2 or cb3.
    await leader.start();
    const current = await agreedLeader(cluster.nodes);
    const home = [b, c].find((n) => n !== current)!;
    // cb3.example.test is new to Prosody and to the leader: its first stanza makes the leader open (or add) a dialback-authenticated stream, which Prosody checks with the follower its DNS names.
    await cluster.pointAt({ [DOMAIN]: b, [CB1]: b, [CB2]: c, [CB3]: home });
    const changed = new Condition();
    const atCb3 = new NumberedInbox('none-', changed);
    const atProsody = new NumberedInbox('new-', changed);
    const cb3 = await connected(bridgeOn(home, 'cb3', await addCallBridge(current, 'cb3'), atCb3.take));
    await connected(prosodyComponent(cluster.prosody, atProsody.take));
    const total = 100;
    const sent = { count: 0 };
    await withPeerLogs(logsOf(), async () => {
      const fromCurrent = current.log.length;
      let killedAt = '';
      await sendNumbered(cb3, PROSODY_COMPONENT, 'new-', total, sent, async (i) => {
        if (i !== 3) return;
        killedAt = `cb3 had sent ${sent.count}, ${atProsody.distinct} arrived; ${/"event":"dialback-sent"/.test(current.log.slice(fromCurrent)) ? 'the dialback key was sent' : 'no dialback key sent yet'}`;
        await current.kill('SIGKILL');
      });
      const next = await agreedLeader(cluster.nodes.filter((n) => n !== current));
      const report = () => atProsody.summary(total, atCb3.bouncesOf('new-'));
      // Bounded below the 30 s in which a silent stream is declared dead (stream-liveness.ts), so that what is measured is the kill, not a ping timeout after it.
      await changed.until(() => atProsody.missing(total).length === 0, 25_000, report).catch(() => undefined);
      const outcome = `when ${current.name} was killed ${killedAt}; new leader ${next.name}\ncb3 -> Prosody: ${report()}`;
      await annotate(outcome);
      console.info(`[cluster federation, kill -9 of the leader during stream setup] ${outcome}`);
      expect(atProsody.missing(total), outcome).toEqual([]);
      expect(atCb3.bouncesOf('new-'), outcome).toEqual([]);
    });
  });
});
