/**
 * Unit tests for the pure parts of src/postgres: WAL position arithmetic, pg_controldata
 * parsing, the managed postgresql.conf, libpq conninfo quoting, Patroni's slot names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLsn, formatLsn } from '../../../src/ha/core/lsn.js';
import { parseControlData } from '../../../src/postgres/controldata.js';
import { renderManagedConf, renderConninfo, quoteConfValue } from '../../../src/postgres/conf-files.js';
import { ignoresPhysicalSlot, slotNameFromMemberName, slotsToDrop } from '../../../src/ha/core/slot-names.js';
import { parseConnUrl, formatConnUrl } from '../../../src/ha/core/conn-url.js';
import { lookupUser } from '../../../src/postgres/os-user.js';

test('LSN text and byte offsets round-trip', () => {
  assert.equal(parseLsn('0/3000060'), 0x3000060);
  assert.equal(parseLsn('16/B374D848'), 0x16 * 2 ** 32 + 0xb374d848);
  assert.equal(formatLsn(parseLsn('16/B374D848')), '16/B374D848');
  assert.equal(parseLsn('garbage'), 0);
});

test('pg_controldata output is parsed into the fields the HA core needs', () => {
  const text = [
    'pg_control version number:            1300',
    'Database system identifier:           7301234567890123456',
    'Database cluster state:               shut down in recovery',
    'Latest checkpoint location:           0/5000028',
    "Latest checkpoint's TimeLineID:       3",
    'Minimum recovery ending location:     0/5000100',
    'wal_log_hints setting:                on',
    'Data page checksum version:           1',
  ].join('\n');
  const parsed = parseControlData(text);
  assert.equal(parsed.systemIdentifier, '7301234567890123456');
  assert.equal(parsed.clusterState, 'shut down in recovery');
  assert.equal(parsed.timeline, 3);
  assert.equal(parsed.checkpointLsn, 0x5000028);
  assert.equal(parsed.minRecoveryEndLsn, 0x5000100);
  assert.equal(parsed.dataChecksums, true);
  assert.equal(parsed.walLogHints, true);
  // After pg_rewind the minimum recovery point is already on the newer timeline.
  const rewound = parseControlData(text + "\nMin recovery ending loc's timeline:   4\n");
  assert.equal(rewound.timeline, 4);
});

test('managed postgresql.conf includes the base file first, quotes values, and carries recovery settings', () => {
  const conf = renderManagedConf({ port: '5433', search_path: "it's" }, { primaryConninfo: 'host=a port=1', primarySlotName: 'node2' });
  const lines = conf.split('\n');
  assert.ok(lines.indexOf("include 'postgresql.base.conf'") < lines.indexOf("port = '5433'"));
  assert.ok(lines.includes("search_path = 'it''s'"));
  assert.ok(lines.includes("primary_conninfo = 'host=a port=1'"));
  assert.ok(lines.includes("primary_slot_name = 'node2'"));
  assert.ok(lines.includes("recovery_target_timeline = 'latest'"));
  assert.ok(!renderManagedConf({}, null).includes('primary_conninfo'));
  assert.equal(quoteConfValue('a\\b'), "'a\\\\b'");
});

test('conninfo quotes values with spaces or quotes and skips empty ones', () => {
  assert.equal(renderConninfo({ host: '127.0.0.1', port: 5432, user: 'rep', application_name: undefined }), 'host=127.0.0.1 port=5432 user=rep');
  assert.equal(renderConninfo({ passfile: "/tmp/a b/it's" }), "passfile='/tmp/a b/it\\'s'");
});

test("slot names follow Patroni's slot_name_from_member_name", () => {
  assert.equal(slotNameFromMemberName('Node-1.dc'), 'node_1_dc');
  assert.equal(slotNameFromMemberName('a b'), 'au0032b');
  assert.equal(slotNameFromMemberName('x'.repeat(80)).length, 63);
});

test('conn_url parsing accepts what Patroni publishes', () => {
  assert.deepEqual(parseConnUrl('postgres://10.0.1.21:5432/postgres'), { host: '10.0.1.21', port: 5432 });
  assert.deepEqual(parseConnUrl('postgres://[::1]:6000/postgres'), { host: '::1', port: 6000 });
  assert.deepEqual(parseConnUrl('postgresql://h/postgres'), { host: 'h', port: 5432 });
  assert.equal(parseConnUrl('http://h:1/'), null);
  assert.equal(parseConnUrl(null), null);
  assert.equal(formatConnUrl('::1', 5), 'postgres://[::1]:5/postgres');
});

test('passwd lookup finds the postgres user', () => {
  const user = lookupUser('postgres', 'root:x:0:0:root:/root:/bin/bash\npostgres:x:101:104:PostgreSQL:/var/lib/postgresql:/bin/bash\n');
  assert.deepEqual(user, { name: 'postgres', uid: 101, gid: 104, home: '/var/lib/postgresql' });
  assert.equal(lookupUser('nobody-here', 'root:x:0:0::/:/bin/sh'), null);
});

test('ignoresPhysicalSlot: every attribute given must match, and a physical slot has no database or plugin', () => {
  assert.equal(ignoresPhysicalSlot([{ name: 'a' }], 'a'), true);
  assert.equal(ignoresPhysicalSlot([{ name: 'a' }], 'b'), false);
  assert.equal(ignoresPhysicalSlot([{ type: 'physical' }], 'any'), true);
  assert.equal(ignoresPhysicalSlot([{ name: 'a', type: 'logical' }], 'a'), false);
  assert.equal(ignoresPhysicalSlot([{ name: 'a', database: 'app' }], 'a'), false);
  assert.equal(ignoresPhysicalSlot([], 'a'), false);
});

test('slotsToDrop: idle slots nobody wants, except those ignore_slots matches; a slot in use is kept', () => {
  const present = [
    { name: 'n2', active: true },
    { name: 'n3', active: false },
    { name: 'gone_member', active: false },
    { name: 'busy_stranger', active: true },
    { name: 'pg_receivewal', active: false },
  ];
  assert.deepEqual(slotsToDrop(present, ['n2', 'n3'], [{ name: 'pg_receivewal' }]), ['gone_member']);
  assert.deepEqual(slotsToDrop(present, ['n2', 'n3'], []), ['gone_member', 'pg_receivewal']);
});
