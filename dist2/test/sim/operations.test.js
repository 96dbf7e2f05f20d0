/**
 * Operator requests through the production shell in the simulator: POST /restart and POST
 * /reinitialize start the agent's 'restart' and 'reinit' background tasks on simulated
 * PostgreSQL. Before the faults, a calm leader is restarted: it answers 'restarted successfully'
 * after exactly one more start of PostgreSQL, keeps the leader key (nobody is promoted). During
 * the faults, random restarts and reinitializations on random members must keep every safety
 * and liveness invariant the simulator checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from './prng.js';
import { simulate } from './simulate.js';
const SEEDS = Array.from({ length: 24 }, (_, i) => 500 + i);
function operator(seed, calm, answers) {
    return (w) => {
        const rng = new Prng(seed ^ 0x0be7a70);
        w.at(w.params.faultStartMs - 12_000, () => {
            const leader = w.leaderNow();
            const provider = leader?.agent?.apiProvider();
            if (leader === null || provider?.postRestart === undefined)
                return;
            const before = { holderBefore: leader.name, promotionsBefore: w.promotions, startsBefore: leader.pg.starts };
            void provider.postRestart({}).then((answer) => {
                calm.push({ ...before, answer, holderAfter: w.dcs.leader?.name ?? null, promotionsAfter: w.promotions, startsAfter: leader.pg.starts });
            });
        }, true);
        const span = w.params.faultEndMs - w.params.faultStartMs;
        for (let i = 0; i < 4; i++) {
            const atMs = w.params.faultStartMs + Math.floor(rng.float() * span);
            const restart = rng.float() < 0.6;
            const force = rng.float() < 0.5;
            const index = Math.floor(rng.float() * w.nodes.length);
            w.at(atMs, () => {
                const provider = w.nodes[index]?.agent?.apiProvider();
                const request = restart ? provider?.postRestart?.({}) : provider?.postReinitialize?.({ force });
                void request?.then((answer) => answers.push(answer));
            }, true);
        }
    };
}
test('POST /restart and /reinitialize through the production shell on simulated PostgreSQL', { timeout: 600_000 }, async () => {
    const calm = [];
    const answers = [];
    for (const seed of SEEDS) {
        const result = await simulate(seed, { operator: operator(seed, calm, answers) });
        if (result.violation !== null && result.violation.knownLimitation === null) {
            assert.fail(`seed ${seed}: ${result.violation.message}\n${result.params}\n${result.log.slice(-30).join('\n')}`);
        }
    }
    assert.ok(calm.length >= SEEDS.length / 2, `a calm leader was restarted in most schedules (${calm.length})`);
    for (const r of calm) {
        assert.deepEqual(r.answer, { code: 200, text: 'restarted successfully' });
        assert.equal(r.holderAfter, r.holderBefore, 'the leader kept its key through its restart');
        assert.equal(r.promotionsAfter, r.promotionsBefore, 'nobody was promoted');
        assert.equal(r.startsAfter, r.startsBefore + 1, 'PostgreSQL was started once more');
    }
    const texts = new Set(answers.map((a) => ('text' in a ? a.text : '')));
    assert.ok(texts.has('restarted successfully') || texts.has('reinitialize started'), `some operations under faults went through: ${[...texts].join(' | ')}`);
});
//# sourceMappingURL=operations.test.js.map