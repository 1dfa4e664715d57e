import { it } from 'vitest';
import { runChaos } from './sim/chaos.js';
import { planForSeed } from './sim/seed-plan.js';
it('dbg', () => {
  const r = runChaos(planForSeed(10026, 3000));
  console.log(r.report);
});
