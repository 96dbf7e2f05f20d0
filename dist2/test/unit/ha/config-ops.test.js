/**
 * PATCH /config and PUT /config on a fake config store with etcd's compare-and-swap: the answer
 * codes and bodies, and that a change made by someone else between the read and the write is a
 * 409 that keeps the other change (never a lost update).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { patchClusterConfig, putClusterConfig } from '../../../src/ha/config-ops.js';
import { DcsUnavailableError } from '../../../src/dcs/types.js';
/** The config key with a mod_revision, compare-and-swap as etcd does; `beforeWrite` runs between read and write. */
class FakeConfigStore {
    config;
    revision = 10;
    writes = 0;
    beforeWrite = null;
    constructor(config) {
        this.config = config;
    }
    async loadCluster() {
        return {
            revision: this.revision,
            initialize: '7',
            config: this.config === null ? null : { value: structuredClone(this.config), modRevision: this.revision },
            leader: null,
            members: [],
            failover: null,
            sync: null,
            history: null,
            status: null,
            failsafe: null,
        };
    }
    async setConfig(value, modRevision) {
        this.beforeWrite?.();
        this.beforeWrite = null;
        const matches = modRevision === null ? this.config === null : this.config !== null && modRevision === this.revision;
        if (!matches)
            return false;
        this.config = structuredClone(value);
        this.revision += 1;
        this.writes += 1;
        return true;
    }
    /** Someone else's write (patronictl, another member's API). */
    externalWrite(value) {
        this.config = value;
        this.revision += 1;
    }
}
test('PATCH merges, writes with the revision it read and answers 200 with the whole new config', async () => {
    const store = new FakeConfigStore({ ttl: 30, loop_wait: 10, postgresql: { parameters: { work_mem: '4MB' } } });
    const answer = await patchClusterConfig(store, { loop_wait: 5, pause: true, postgresql: { parameters: { work_mem: null } } });
    assert.deepEqual(answer, { code: 200, json: { ttl: 30, loop_wait: 5, pause: true, postgresql: { parameters: {} } } });
    assert.deepEqual(store.config, { ttl: 30, loop_wait: 5, pause: true, postgresql: { parameters: {} } });
    assert.equal(store.revision, 11);
});
test('PATCH that changes nothing answers 200 without writing', async () => {
    const store = new FakeConfigStore({ ttl: 30 });
    assert.deepEqual(await patchClusterConfig(store, { pause: null }), { code: 200, json: { ttl: 30 } });
    assert.equal(store.writes, 0);
});
test('PATCH racing another writer: 409, and the other change is kept', async () => {
    const store = new FakeConfigStore({ ttl: 30, loop_wait: 10 });
    store.beforeWrite = () => store.externalWrite({ ttl: 30, loop_wait: 10, retry_timeout: 7 });
    const answer = await patchClusterConfig(store, { loop_wait: 3 });
    assert.equal(answer.code, 409);
    assert.ok('text' in answer && answer.text.startsWith('config changed concurrently'));
    assert.deepEqual(store.config, { ttl: 30, loop_wait: 10, retry_timeout: 7 });
});
test('PATCH with an invalid value or a new unknown key: 400 naming it, nothing written', async () => {
    const store = new FakeConfigStore({ ttl: 30, loop_wait: 10 });
    assert.deepEqual(await patchClusterConfig(store, { loop_wait: 'abc' }), {
        code: 400,
        text: 'invalid configuration: loop_wait: expected an integer of at least 1 (seconds), got "abc"',
    });
    assert.deepEqual(await patchClusterConfig(store, { lop_wait: 3 }), {
        code: 400,
        text: 'invalid configuration: lop_wait: unknown setting (not a dynamic configuration key)',
    });
    assert.equal(store.writes, 0);
});
test('PATCH without a config in the DCS: 503; an unreachable DCS: 503 with the reason', async () => {
    assert.equal((await patchClusterConfig(new FakeConfigStore(null), { pause: true })).code, 503);
    const down = {
        loadCluster: async () => {
            throw new DcsUnavailableError('no etcd endpoint answered');
        },
        setConfig: async () => false,
    };
    const answer = await patchClusterConfig(down, { pause: true });
    assert.equal(answer.code, 503);
    assert.ok('text' in answer && answer.text.includes('no etcd endpoint answered'));
});
test('PUT replaces the config (also when none exists), validates it, and loses no concurrent change', async () => {
    const store = new FakeConfigStore({ ttl: 30, loop_wait: 10, pause: true });
    assert.deepEqual(await putClusterConfig(store, { ttl: 20, loop_wait: 5 }), { code: 200, json: { ttl: 20, loop_wait: 5 } });
    assert.deepEqual(store.config, { ttl: 20, loop_wait: 5 });
    assert.equal((await putClusterConfig(store, { ttl: 'soon' })).code, 400);
    assert.deepEqual(store.config, { ttl: 20, loop_wait: 5 });
    store.beforeWrite = () => store.externalWrite({ ttl: 20, loop_wait: 5, pause: true });
    assert.equal((await putClusterConfig(store, { ttl: 25 })).code, 409);
    assert.deepEqual(store.config, { ttl: 20, loop_wait: 5, pause: true });
    const empty = new FakeConfigStore(null);
    assert.deepEqual(await putClusterConfig(empty, { ttl: 30 }), { code: 200, json: { ttl: 30 } });
    assert.deepEqual(empty.config, { ttl: 30 });
});
//# sourceMappingURL=config-ops.test.js.map