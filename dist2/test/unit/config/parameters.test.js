/**
 * The parameters written to postgresql.conf: Patroni's merge order (defaults, then dynamic,
 * then local, with the cluster-wide parameters only from the dynamic configuration and only
 * when acceptable), the parameters keel always sets, and the string form of every value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveParameters, effectivePgHba, effectiveUsePgRewind, sizeInMb } from '../../../src/config/parameters.js';
import { parseDynamicConfig } from '../../../src/config/dynamic.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { SEED_FILE, load, minimal, setPath } from './helpers.js';
test("the seed cluster gets Patroni's parameters, all as postgresql.conf strings", () => {
    const local = loadConfigFile(SEED_FILE, {});
    const params = effectiveParameters(local, parseDynamicConfig(local.bootstrap.dcs));
    assert.deepEqual(params, {
        // from bootstrap.dcs.postgresql.parameters
        max_connections: '200',
        shared_buffers: '256MB',
        effective_cache_size: '1GB',
        wal_level: 'replica',
        max_wal_senders: '10',
        max_replication_slots: '10',
        hot_standby: 'on',
        // Patroni's defaults for what it controls
        max_prepared_transactions: '0',
        max_locks_per_transaction: '64',
        track_commit_timestamp: 'off',
        max_worker_processes: '8',
        wal_log_hints: 'on',
        wal_keep_size: '128MB',
        // derived by keel
        listen_addresses: '10.0.1.21',
        port: '5432',
        cluster_name: 'postgres-cluster',
        hba_file: '/var/lib/postgresql/15/main/pg_hba.conf',
        ident_file: '/var/lib/postgresql/15/main/pg_ident.conf',
    });
});
test('local parameters win over dynamic ones, except those Patroni keeps cluster-wide', () => {
    const local = load(setPath(minimal(), 'postgresql.parameters', { work_mem: '8MB', Shared_Buffers: '2GB', max_connections: 999, jit: false, port: 1 }));
    const dyn = parseDynamicConfig({
        postgresql: { parameters: { work_mem: '4MB', shared_buffers: '1GB', max_connections: 300, random_page_cost: 1.1, jit: true } },
    });
    const params = effectiveParameters(local, dyn);
    assert.equal(params['work_mem'], '8MB');
    assert.equal(params['shared_buffers'], '2GB', 'names are case-insensitive');
    assert.equal(params['Shared_Buffers'], undefined);
    assert.equal(params['max_connections'], '300', 'cluster-wide: the local value is ignored');
    assert.equal(params['random_page_cost'], '1.1');
    assert.equal(params['jit'], 'off', 'booleans are written on/off');
    assert.equal(params['port'], '5432');
    assert.equal(params['listen_addresses'], '10.0.0.1');
});
test("unacceptable dynamic values for controlled parameters keep Patroni's default", () => {
    const local = load(minimal());
    const dyn = parseDynamicConfig({
        postgresql: {
            parameters: {
                max_connections: 10,
                wal_level: 'minimal',
                hot_standby: 'off',
                wal_log_hints: 'off',
                max_wal_senders: 2,
                cluster_name: 'x',
                listen_addresses: '*',
            },
        },
    });
    const params = effectiveParameters(local, dyn);
    assert.equal(params['max_connections'], '100');
    assert.equal(params['wal_level'], 'replica');
    assert.equal(params['hot_standby'], 'on');
    assert.equal(params['wal_log_hints'], 'on');
    assert.equal(params['max_wal_senders'], '10');
    assert.equal(params['cluster_name'], 'demo');
    assert.equal(params['listen_addresses'], '10.0.0.1');
    assert.equal(effectiveParameters(local, parseDynamicConfig({ postgresql: { parameters: { wal_level: 'hot_standby' } } }))['wal_level'], 'replica');
    assert.equal(effectiveParameters(local, parseDynamicConfig({ postgresql: { parameters: { wal_level: 'logical' } } }))['wal_level'], 'logical');
});
test('listen_addresses joins every listen host', () => {
    const local = load(setPath(setPath(minimal(), 'postgresql.listen', '127.0.0.1,10.0.0.1:5433'), 'postgresql.connect_address', '10.0.0.1:5433'));
    const params = effectiveParameters(local, parseDynamicConfig({}));
    assert.equal(params['listen_addresses'], '127.0.0.1,10.0.0.1');
    assert.equal(params['port'], '5433');
});
test('wal_keep_size on PostgreSQL 13+, wal_keep_segments before, converted like Patroni', () => {
    const local = load(minimal());
    assert.equal(effectiveParameters(local, parseDynamicConfig({ postgresql: { parameters: { wal_keep_segments: 64 } } }))['wal_keep_size'], '1024MB');
    assert.equal(effectiveParameters(local, parseDynamicConfig({ postgresql: { parameters: { wal_keep_size: '2GB' } } }))['wal_keep_size'], '2GB');
    const old = effectiveParameters(local, parseDynamicConfig({ postgresql: { parameters: { wal_keep_size: '1GB' } } }), { pgMajorVersion: 12 });
    assert.equal(old['wal_keep_segments'], '64');
    assert.equal(old['wal_keep_size'], undefined);
    assert.equal(effectiveParameters(local, parseDynamicConfig({}), { pgMajorVersion: 12 })['wal_keep_segments'], '8');
    assert.deepEqual([sizeInMb('16384kB'), sizeInMb('1GB'), sizeInMb(64), sizeInMb('lots')], [16, 1024, 64, undefined]);
});
test('hba_file and ident_file point into the config directory unless set', () => {
    const local = load(setPath(setPath(minimal(), 'postgresql.config_dir', '/etc/pg'), 'postgresql.parameters', { hba_file: 'custom_hba.conf', ident_file: '/abs/ident.conf' }));
    const params = effectiveParameters(local, parseDynamicConfig({}));
    assert.equal(params['hba_file'], '/etc/pg/custom_hba.conf');
    assert.equal(params['ident_file'], '/abs/ident.conf');
});
test('synchronous_standby_names is left to the HA loop in synchronous mode', () => {
    const local = load(minimal());
    const parameters = { synchronous_standby_names: 'n2' };
    assert.equal(effectiveParameters(local, parseDynamicConfig({ postgresql: { parameters } }))['synchronous_standby_names'], 'n2');
    assert.equal(effectiveParameters(local, parseDynamicConfig({ synchronous_mode: true, postgresql: { parameters } }))['synchronous_standby_names'], undefined);
});
test('use_pg_rewind and pg_hba: the local file wins when it sets them', () => {
    const dyn = parseDynamicConfig({ postgresql: { use_pg_rewind: true, pg_hba: ['host all all 0.0.0.0/0 md5'] } });
    const plain = load(minimal());
    assert.equal(effectiveUsePgRewind(plain, dyn), true);
    assert.deepEqual(effectivePgHba(plain, dyn), ['host all all 0.0.0.0/0 md5']);
    const overriding = load(setPath(setPath(minimal(), 'postgresql.use_pg_rewind', false), 'postgresql.pg_hba', ['local all all trust']));
    assert.equal(effectiveUsePgRewind(overriding, dyn), false);
    assert.deepEqual(effectivePgHba(overriding, dyn), ['local all all trust']);
});
//# sourceMappingURL=parameters.test.js.map