/**
 * The fence and synchronous mode share synchronous_standby_names (issue 9, item 2): the tracker
 * (ha/postgres-tracker.ts) keeps both, and postgresql.conf always says the stricter. Checked on
 * the tracker itself with a PostgreSQL node that records what is written to postgresql.conf:
 *  - a fenced node stays fenced whatever synchronous mode sets meanwhile;
 *  - lifting the fence writes back exactly what synchronous mode asked for;
 *  - an agent restarted on a running PostgreSQL keeps both right: the fence stays, and the
 *    setting the fence hid is replaced by the strict placeholder (nothing acknowledged), never a
 *    weaker one; unfenced, the setting in the file is taken over as it is;
 *  - synchronous mode off: the configured synchronous_standby_names is used again;
 *  - a configuration change is applied once, and nothing is rewritten while nothing changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.js';
import { parseDynamicConfig } from '../../../src/config/dynamic.js';
import type { DynamicConfig } from '../../../src/config/types.js';
import { FENCE_STANDBY_NAME, STRICT_PLACEHOLDER_NAME, ackRuleOf } from '../../../src/ha/core/sync-standby-names.js';
import { PostgresTracker } from '../../../src/ha/postgres-tracker.js';
import { fence } from '../../../src/ha/tasks.js';
import { renderManagedConf } from '../../../src/postgres/conf-files.js';
import type { PostgresNode } from '../../../src/postgres/ports.js';
import { createLogger } from '../../../src/observability/log.js';

const local = parseConfig(
  `scope: s
name: n1
restapi: {listen: "127.0.0.1:8008"}
etcd3: {host: "127.0.0.1:2379"}
postgresql:
  listen: "127.0.0.1:5432"
  data_dir: /var/lib/postgresql/15/main
  parameters: {synchronous_standby_names: "configured_one"}
  authentication:
    superuser: {username: postgres, password: su}
    replication: {username: replicator, password: rep}
`,
  '/etc/patroni/patroni.yml',
  {},
);

/** The parts of a PostgreSQL node the tracker uses: postgresql.conf as text, reloads counted. */
function fakeNode(initialConf = ''): PostgresNode & { conf: string; reloads: number; released: string[][] } {
  const node = {
    conf: initialConf,
    reloads: 0,
    released: [] as string[][],
    async releaseSyncWaiters(standbys: readonly string[]): Promise<void> {
      node.released.push([...standbys]);
    },
    connectTo: () => undefined,
    async writeConfig(parameters: Record<string, string>): Promise<void> {
      node.conf = renderManagedConf(parameters, null);
    },
    async reload(): Promise<boolean> {
      node.reloads++;
      return true;
    },
    async managedConfigText(): Promise<string> {
      return node.conf;
    },
    async postmasterPid(): Promise<number | null> {
      return 4242;
    },
    async hasStandbySignal(): Promise<boolean> {
      return false;
    },
  };
  return node as unknown as PostgresNode & { conf: string; reloads: number; released: string[][] };
}

function settingIn(conf: string): string | undefined {
  return /^synchronous_standby_names = '((?:[^']|'')*)'$/m.exec(conf)?.[1]?.replace(/''/g, "'");
}

function tracker(node: PostgresNode, dynamic: () => DynamicConfig): PostgresTracker {
  return new PostgresTracker(node, { local: () => local, dynamic }, createLogger({ level: 'error', format: 'text', write: () => undefined }));
}

const syncOn = parseDynamicConfig({ synchronous_mode: true });
const syncOnStrict = parseDynamicConfig({ synchronous_mode: true, synchronous_mode_strict: true });

test('a fenced node stays fenced whatever synchronous mode sets; lifting the fence restores exactly its setting', async () => {
  const node = fakeNode();
  const t = tracker(node, () => syncOn);
  await t.setSyncStandbyNames('n2');
  assert.equal(settingIn(node.conf), 'n2');
  await t.applyAndReload({ fenced: true });
  assert.equal(settingIn(node.conf), FENCE_STANDBY_NAME);
  await t.setSyncStandbyNames('2 (n2,n3)');
  assert.equal(settingIn(node.conf), FENCE_STANDBY_NAME, 'the fence wins over a sync step taken while fenced');
  assert.equal(ackRuleOf(settingIn(node.conf) ?? '').kind, 'never');
  await t.applyAndReload({ fenced: false });
  assert.equal(settingIn(node.conf), '2 (n2,n3)', 'unfenced: the last setting synchronous mode asked for');
});

test('commits waiting on a replaced standby are released at once: after a change of standby and after the fence lifts, not while fenced or for no standby', async () => {
  const node = fakeNode();
  const t = tracker(node, () => syncOn);
  await t.setSyncStandbyNames('n2');
  assert.deepEqual(node.released, [['n2']]);
  await t.setSyncStandbyNames('n2');
  assert.equal(node.released.length, 1, 'the same setting again releases nothing new');
  await t.applyAndReload({ fenced: true });
  await t.setSyncStandbyNames('n3');
  assert.equal(node.released.length, 1, 'fenced: no standby may release anything');
  await t.applyAndReload({ fenced: false });
  assert.deepEqual(node.released.at(-1), ['n3'], 'the fence lifted: the standby now named replies at once');
  await t.setSyncStandbyNames('');
  assert.equal(node.released.length, 2, 'no standby named: PostgreSQL releases every waiter itself');
});

test('the WAL position of the setting in effect is recorded once, from a probe that shows it (not the fence)', async () => {
  const t = tracker(fakeNode(), () => syncOn);
  await t.setSyncStandbyNames('n2');
  t.noteSyncApplied('', 100);
  assert.equal(t.syncAppliedAtLsn, null, 'the server still shows the old setting');
  t.noteSyncApplied('n2', 200);
  assert.equal(t.syncAppliedAtLsn, 200);
  t.noteSyncApplied('n2', 300);
  assert.equal(t.syncAppliedAtLsn, 200, 'the first position counts');
  await t.setSyncStandbyNames('n3');
  assert.equal(t.syncAppliedAtLsn, null, 'a new setting: a new position');
  await t.applyAndReload({ fenced: true });
  t.noteSyncApplied('n3', 400);
  assert.equal(t.syncAppliedAtLsn, null, 'nothing recorded while fenced');
});

test('an agent restarted on a fenced PostgreSQL keeps the fence, and the setting it hid becomes the strict placeholder', async () => {
  const first = fakeNode();
  const before = tracker(first, () => syncOn);
  await before.setSyncStandbyNames('n2');
  await before.applyAndReload({ fenced: true });
  const again = tracker(fakeNode(first.conf), () => syncOn);
  await again.adoptRunning();
  assert.equal(again.fenced, true);
  assert.equal(again.syncStandbyNamesInEffect(), STRICT_PLACEHOLDER_NAME);
  await again.applyAndReload({ fenced: false });
  assert.equal(ackRuleOf(again.parameters()['synchronous_standby_names'] ?? '').kind, 'never', 'never weaker than before the restart');
});

test('an agent restarted on an unfenced PostgreSQL takes over the setting in the file', async () => {
  const first = fakeNode();
  const before = tracker(first, () => syncOn);
  await before.setSyncStandbyNames('"pg-2"');
  const again = tracker(fakeNode(first.conf), () => syncOn);
  await again.adoptRunning();
  assert.equal(again.fenced, false);
  assert.equal(again.syncStandbyNamesInEffect(), '"pg-2"');
});

test('a node that is not the leader keeps the non-leader setting: nothing in non-strict, the placeholder in strict', async () => {
  let dynamic = syncOn;
  const t = tracker(fakeNode(), () => dynamic);
  await t.setSyncStandbyNames('n2');
  t.forgetSyncStandbyNames();
  assert.equal(t.parameters()['synchronous_standby_names'], '');
  dynamic = syncOnStrict;
  assert.equal(t.parameters()['synchronous_standby_names'], STRICT_PLACEHOLDER_NAME);
});

test('synchronous mode off: the configured synchronous_standby_names again', async () => {
  let dynamic = syncOn;
  const t = tracker(fakeNode(), () => dynamic);
  await t.setSyncStandbyNames('n2');
  dynamic = parseDynamicConfig({});
  assert.equal(t.parameters()['synchronous_standby_names'], 'configured_one');
});

test('applying configuration changes: nothing while nothing changed, each change once; what the tracker writes itself (the fence) leaves nothing to apply', async () => {
  const node = fakeNode();
  let dynamic = parseDynamicConfig({ postgresql: { parameters: { work_mem: '4MB' } } });
  const t = tracker(node, () => dynamic);
  assert.equal(await t.applyConfigChanges(), null, 'the first call only records');
  const first = t.parameters();
  assert.equal(t.parameters(), first, 'the same parameters object while nothing changed');
  assert.equal(await t.applyConfigChanges(), null);
  assert.equal(node.reloads, 0);

  dynamic = parseDynamicConfig({ postgresql: { parameters: { work_mem: '8MB' } } });
  assert.deepEqual((await t.applyConfigChanges())?.parameters, { work_mem: ['4MB', '8MB'] });
  assert.equal(node.reloads, 1);
  assert.match(node.conf, /^work_mem = '8MB'$/m);
  assert.equal(await t.applyConfigChanges(), null, 'a change is applied once');

  // Changes the tracker makes itself are written at once; applyConfigChanges finds nothing left.
  await t.applyAndReload({ fenced: true });
  assert.equal(t.parameters()['synchronous_standby_names'], FENCE_STANDBY_NAME);
  assert.equal(await t.applyConfigChanges(), null);
  await t.applyAndReload({ fenced: false });
  assert.equal(t.parameters()['synchronous_standby_names'], 'configured_one');
  assert.notEqual(t.parameters(), first, 'a new object once a parameter changed');
  assert.equal(await t.applyConfigChanges(), null);
});

test('a fence lifted while its write ran does not stand keel-fence down beside an unfenced primary', async () => {
  let release: () => void = () => undefined;
  const inPlace: boolean[] = [];
  const a = {
    pg: {
      fenced: false,
      writeConfig: () => new Promise<void>((resolve) => (release = resolve)), // a slow postgresql.conf write
      node: { reload: async () => true },
    },
    metrics: { fenced: () => undefined },
    log: { warning: () => undefined, error: () => undefined },
    lease: { setFenceInPlace: (on: boolean) => inPlace.push(on) },
  };
  const fencing = fence(a as unknown as Parameters<typeof fence>[0], 'the guard fired');
  a.pg.fenced = false; // the cycle's unfence meanwhile (its own write carries the unfenced state)
  release();
  await fencing;
  assert.deepEqual(inPlace, [], 'keel-fence stood down although the fence was lifted');
});
