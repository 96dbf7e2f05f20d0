import { Prng } from './prng.js';
function pickRate(rng, high) {
    const r = rng.float();
    return r < 0.4 ? 0 : r < 0.75 ? high / 4 : high;
}
/** Timings in whole seconds, as patroni.yml spells them, within loop_wait + 2 * retry_timeout <= ttl. */
function drawTimings(rng) {
    const ttlS = rng.pick([7, 10, 10, 15, 20, 30]);
    const retryTimeoutS = rng.int(3, Math.floor((ttlS - 1) / 2));
    const loopWaitS = rng.int(1, ttlS - 2 * retryTimeoutS);
    return { ttlS, loopWaitS, retryTimeoutS };
}
export function drawParams(seed, mutant = 'none', family = 'standard') {
    const rng = new Prng(seed ^ 0x5eed);
    const nodeCount = rng.pick([2, 3, 3, 3, 3, 4, 5]);
    const timings = drawTimings(rng);
    const watchdogMode = family === 'frozen-unguarded' ? 'off' : rng.pick(['off', 'automatic', 'automatic', 'required']);
    const withWatchdog = watchdogMode !== 'off';
    const faultStartMs = 30_000;
    const faultEndMs = faultStartMs + rng.int(30_000, 90_000);
    const rates = {
        pgCrash: pickRate(rng, 2),
        nodeKill: pickRate(rng, 1.5),
        agentCrash: withWatchdog ? pickRate(rng, 1.5) : 0,
        longPause: family === 'frozen-unguarded' ? Math.max(1, pickRate(rng, 1.5)) : withWatchdog ? pickRate(rng, 1.5) : 0,
        shortPause: pickRate(rng, 3),
        dcsCut: pickRate(rng, 2),
        dcsOneWay: pickRate(rng, 1.5),
        dcsSlow: pickRate(rng, 2),
        netCut: pickRate(rng, 2),
        replayPause: pickRate(rng, 2),
        dcsDown: pickRate(rng, 0.5),
        etcdLeaderChange: pickRate(rng, 1),
        slowConfigWrite: pickRate(rng, 1),
        maintenance: pickRate(rng, 0.5),
    };
    const slowDcs = rng.chance(0.2);
    return {
        seed,
        family,
        nodeCount,
        ...timings,
        maximumLagOnFailoverBytes: rng.pick([256 * 1024, 1 << 20, 16 << 20]),
        primaryStartTimeoutS: rng.pick([0, 2, 30, 300]),
        checkTimeline: rng.chance(0.5),
        usePgRewind: rng.chance(0.7),
        failsafeMode: rng.chance(0.3),
        watchdogMode,
        safetyMarginS: rng.int(1, Math.max(1, Math.floor(timings.ttlS / 4))),
        checksums: rng.chance(0.8),
        rewindGrantsMissing: rng.chance(0.1),
        faultStartMs,
        faultEndMs,
        rates,
        writeIntervalMs: [50, rng.pick([200, 500, 1000])],
        writeBytes: [8192, rng.pick([16384, 65536, 262144])],
        dcsLatencyMs: [1, 30],
        slowDcsLatencyMs: slowDcs ? [1, Math.max(30, Math.floor((timings.retryTimeoutS * 1000) / 4))] : null,
        clockSkew: rng.pick([0, 0.0005, 0.002]),
        mutant,
    };
}
export function describeParams(p) {
    const rates = Object.entries(p.rates)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
    return (`seed=${p.seed} family=${p.family} nodes=${p.nodeCount} ttl=${p.ttlS} loop_wait=${p.loopWaitS} retry_timeout=${p.retryTimeoutS} ` +
        `max_lag=${p.maximumLagOnFailoverBytes} primary_start_timeout=${p.primaryStartTimeoutS} check_timeline=${p.checkTimeline} ` +
        `use_pg_rewind=${p.usePgRewind} failsafe=${p.failsafeMode} checksums=${p.checksums} rewind_grants_missing=${p.rewindGrantsMissing} ` +
        `watchdog=${p.watchdogMode}/${p.safetyMarginS}s clock_skew=${p.clockSkew} faults=[${p.faultStartMs},${p.faultEndMs}) ` +
        `rates/min={${rates}} slow_dcs=${p.slowDcsLatencyMs?.join('..') ?? 'no'} mutant=${p.mutant}`);
}
//# sourceMappingURL=model.js.map