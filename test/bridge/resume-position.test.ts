import { expect, it } from 'vitest';
import { resumePosition, type SrvTargetAddress } from '../../src/bridge/srv-call-bridge.js';

/** Where an SRV call bridge goes on after looking the name up again. */

const t = (n: number): SrvTargetAddress => ({ target: `node${n}.example.test`, address: `127.0.2.${n}`, port: 5223 });
const list = [t(1), t(2), t(3)];

it('goes on after the target last tried when the answer expired in the middle of the list', () => {
  // node1 was tried (position 1): node2 is next, in the fresh answer too.
  expect(resumePosition(list, 1, list)).toBe(1);
  expect(resumePosition(list, 2, [t(3), t(2), t(1)])).toBe(2);
});

it('starts at the top when the list was used up, nothing was tried, or the last target is gone', () => {
  expect(resumePosition(list, 3, list)).toBe(0);
  expect(resumePosition(list, 0, list)).toBe(0);
  expect(resumePosition([], 0, list)).toBe(0);
  expect(resumePosition(list, 1, [t(2), t(3)])).toBe(0);
  // The last tried is now the fresh answer's last: the top comes next.
  expect(resumePosition(list, 1, [t(2), t(1)])).toBe(0);
});
