/**
 * Switchover and manual failover through the production shell in the simulator: POST
 * /switchover, /failover and DELETE /switchover on the agents' own ApiProviders, on simulated
 * PostgreSQL and etcd. Before the faults, a calm leader is asked to hand over to a named replica:
 * the answer is Patroni's 'Successfully switched over to "<candidate>"' and the candidate holds
 * the key. During the faults, random switchovers (with and without a candidate, scheduled or
 * not), failovers and cancellations must keep every safety and liveness invariant the simulator
 * checks: one primary at a time (a), promotion only with the key and nobody else acknowledging
 * (b), never past maximum_lag_on_failover (d), and a single leader once the faults heal (c).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OperationResult } from '../../src/api/routes.js';
import { Prng } from './prng.js';
import { simulate } from './simulate.js';
import type { World } from './world.js';

const SEEDS = Array.from({ length: 500 }, (_, i) => 7000 + i);
/** Wall clock of the simulated agents (sim-ports.ts) at virtual time 0. */
const WALL_EPOCH_MS = 1_796_083_200_000;

interface CalmSwitchover {
  answer: OperationResult;
  candidate: string;
  holderAfter: string | null;
}

function operator(seed: number, calm: CalmSwitchover[], answers: OperationResult[]): (w: World) => void {
  return (w) => {
    const rng = new Prng(seed ^ 0x5717c40);
    w.at(
      w.params.faultStartMs - 15_000,
      () => {
        const leader = w.leaderNow();
        const candidate = w.nodes.find((n) => n !== leader && n.agent !== null && n.pg.state === 'up');
        const provider = leader?.agent?.apiProvider();
        if (leader === null || candidate === undefined || provider?.postSwitchover === undefined) return;
        void provider.postSwitchover({ leader: leader.name, candidate: candidate.name }).then((answer) => {
          calm.push({ answer, candidate: candidate.name, holderAfter: w.dcs.leader?.name ?? null });
        });
      },
      true,
    );
    const span = w.params.faultEndMs - w.params.faultStartMs;
    for (let i = 0; i < 4; i++) {
      const atMs = w.params.faultStartMs + Math.floor(rng.float() * span);
      const kind = rng.pick(['switchover', 'switchover-any', 'scheduled', 'failover', 'cancel'] as const);
      const via = Math.floor(rng.float() * w.nodes.length);
      const pick = Math.floor(rng.float() * w.nodes.length);
      const delayS = 1 + Math.floor(rng.float() * 3 * w.params.loopWaitS);
      w.at(
        atMs,
        () => {
          const provider = w.nodes[via]?.agent?.apiProvider();
          const leader = w.dcs.leader?.name;
          const candidate = w.nodes[pick]?.name ?? '';
          let request: Promise<OperationResult> | undefined;
          if (kind === 'switchover') request = provider?.postSwitchover?.({ leader: leader ?? '', candidate });
          else if (kind === 'switchover-any') request = provider?.postSwitchover?.({ leader: leader ?? '' });
          else if (kind === 'failover') request = provider?.postFailover?.({ candidate });
          else if (kind === 'cancel') request = provider?.deleteSwitchover?.();
          else {
            const at = new Date(WALL_EPOCH_MS + w.nowMs + delayS * 1000).toISOString().replace('Z', '+00:00');
            request = provider?.postSwitchover?.({ leader: leader ?? '', candidate, scheduled_at: at });
          }
          void request?.then((answer) => answers.push(answer));
        },
        true,
      );
    }
  };
}

test('switchover, failover and their cancellation through the production shell keep every invariant', { timeout: 900_000 }, async () => {
  const calm: CalmSwitchover[] = [];
  const answers: OperationResult[] = [];
  for (const seed of SEEDS) {
    const result = await simulate(seed, { operator: operator(seed, calm, answers) });
    if (result.violation !== null && result.violation.knownLimitation === null) {
      assert.fail(`seed ${seed}: ${result.violation.message}\n${result.params}\n${result.log.slice(-40).join('\n')}`);
    }
  }
  const done = calm.filter((c) => c.answer.code === 200);
  assert.ok(done.length >= SEEDS.length / 2, `a calm switchover succeeded in most schedules (${done.length} of ${calm.length})`);
  for (const c of done) {
    assert.deepEqual(c.answer, { code: 200, text: `Successfully switched over to "${c.candidate}"` });
    assert.equal(c.holderAfter, c.candidate, 'the candidate holds the key when the switchover is reported done');
  }
  const texts = new Set(answers.map((a) => ('text' in a ? a.text.replace(/"[^"]*"/g, '"X"') : '')));
  assert.ok(
    texts.has('Successfully switched over to "X"') || texts.has('Successfully failed over to "X"'),
    `some requests under faults went through: ${[...texts].join(' | ')}`,
  );
});
