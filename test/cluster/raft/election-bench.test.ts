/**
 * The election benchmark's own guarantees, on few seeds: it reports every
 * configuration, and what it measures is the behaviour pre-vote promises.
 */
import { expect, it } from 'vitest';
import { runRaftElectionBench } from '../../bench/raft-election.js';

it('reports election percentiles per configuration, and pre-vote keeps a rejoining node from deposing the leader', () => {
  const text = runRaftElectionBench({ seeds: 40 });
  const lines = text.split('\n');
  expect(lines[0]).toMatch(/^raft election after leader loss .*40 seeds each/);
  for (const config of ['3 nodes, pre-vote on ', '3 nodes, pre-vote off', '5 nodes, pre-vote on ', '5 nodes, pre-vote off']) {
    const line = lines.find((l) => l.includes(config));
    expect(line, config).toMatch(/p50 +\d+\.\d ticks +p99 +\d+\.\d/);
    // Nobody can be elected before the shortest timeout, and every seed found a leader.
    const p50 = Number(/p50 +(\d+\.\d)/.exec(line!)![1]);
    expect(p50).toBeGreaterThanOrEqual(10);
    expect(line).not.toMatch(/no leader within/);
  }
  expect(text).toMatch(/pre-vote on : healthy leader deposed in 0 of 20 seeds/);
  expect(text).toMatch(/pre-vote off: healthy leader deposed in [1-9]\d* of 20 seeds/);
  // A transfer needs no election timeout; a cut-off leader steps down within (ET, 2·ET].
  const transfer = Number(/leadership transfer, 5 nodes: p50 +(\d+\.\d)/.exec(text)![1]);
  expect(transfer).toBeLessThan(5);
  const stepDown = /steps down \(check-quorum\) p50 +(\d+\.\d) ticks +p99 +(\d+\.\d)/.exec(text)!;
  expect(Number(stepDown[1])).toBeGreaterThan(10);
  expect(Number(stepDown[2])).toBeLessThanOrEqual(21);
});
