/**
 * The chaos scenarios' pure parts on hand-made inputs: the overlap of two nodes acknowledging,
 * the old leader's last and another node's first acknowledgement around a fault, how a node
 * rejoined (from keel's and Patroni's log lines), the lab's patroni.yml, the nftables rule that
 * cuts one agent from etcd, and where cgroup v2 is mounted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ackTimes, classifyRejoin, overlapMs } from '../../support/chaos-measure.js';
import { cgroup2Mount, etcdCutRules, renderChaosConfig } from '../../support/chaos-lab.js';
import { tenures, type Ack, type Tenure } from '../../support/write-loss.js';

interface LabConfig {
  bootstrap: { dcs: { ttl: number; loop_wait: number; retry_timeout: number; postgresql: { parameters: Record<string, unknown> } }; pg_hba: string[] };
  etcd3: { hosts: string };
  restapi: { connect_address: string };
  postgresql: { listen: string; connect_address: string; data_dir: string };
}

const tenure = (node: string, firstMs: number, lastMs: number): Tenure => ({ node, firstMs, lastMs, count: 2 });

function acks(node: string, fromMs: number, toMs: number, stepMs = 50): Ack[] {
  const list: Ack[] = [];
  for (let t = fromMs; t <= toMs; t += stepMs) list.push({ id: t, writer: `pinned:${node}`, node, address: '', serverPort: null, sentMs: t - 1, atMs: t });
  return list;
}

test('overlap: none for a clean handover, the intersection for two primaries, the union for three', () => {
  assert.equal(overlapMs([tenure('a', 0, 1000), tenure('b', 5000, 9000)]), 0);
  assert.equal(overlapMs([tenure('a', 0, 6000), tenure('b', 5000, 9000)]), 1000);
  // b overlaps a from 5000 to 6000 and c from 5500 to 7000: 5000..7000, counted once.
  assert.equal(overlapMs([tenure('a', 0, 6000), tenure('b', 5000, 9000), tenure('c', 5500, 7000)]), 2000);
  // The same node's tenures never overlap with themselves.
  assert.equal(overlapMs([tenure('a', 0, 6000), tenure('a', 5000, 9000)]), 0);
});

test('ack times: the old leader in the tenure it held at the fault, a later tenure of it is not counted', () => {
  const list = [...acks('a', 0, 3000), ...acks('b', 10_000, 20_000), ...acks('a', 30_000, 31_000)];
  const times = ackTimes(list, tenures(list, 1000), 'a', 2000, 1000);
  assert.deepEqual(times, { oldLeaderLastAckMs: 1000, otherFirstAckMs: 8000 });
});

test('ack times: a frozen leader acknowledging after the new one started shows both instants', () => {
  const list = [...acks('a', 0, 15_000), ...acks('b', 9_000, 20_000)];
  const times = ackTimes(list, tenures(list, 1000), 'a', 1000, 1000);
  assert.deepEqual(times, { oldLeaderLastAckMs: 14_000, otherFirstAckMs: 8000 });
  assert.equal(overlapMs(tenures(list, 1000)), 6000);
});

test('ack times: nobody acknowledging after the fault gives nulls', () => {
  const list = acks('a', 0, 500);
  assert.deepEqual(ackTimes(list, tenures(list, 1000), 'b', 2000, 1000), { oldLeaderLastAckMs: null, otherFirstAckMs: null });
});

test('rejoin method from keel and Patroni log lines', () => {
  assert.equal(classifyRejoin('2026-12-02 INFO running pg_rewind from node2\n', true), 'rewind');
  assert.equal(classifyRejoin('INFO: running pg_rewind from node2\nINFO: Removing data directory: /x\n', true), 'reclone');
  assert.equal(classifyRejoin('WARNING cloning the data directory again from node1; ...', true), 'reclone');
  assert.equal(classifyRejoin('INFO demoting\n', true), 'restart');
  assert.equal(classifyRejoin('', false), 'reconnect');
});

test("the lab's patroni.yml: issue 10's timings, etcd3 on the cluster network, md5, addresses per network", () => {
  const host = { name: 'h2', netns: 'keel-abcd-h2', clusterAddress: '198.18.10.2', clientAddress: '198.18.11.2' };
  const doc = parse(
    renderChaosConfig({
      system: 'patroni',
      name: 'node2',
      host,
      etcdHosts: ['198.18.10.2:2379', '198.18.10.1:2379'],
      home: '/tmp/lab/h2',
      superuserPassword: 'pw',
    }),
  ) as LabConfig;
  assert.deepEqual([doc.bootstrap.dcs.ttl, doc.bootstrap.dcs.loop_wait, doc.bootstrap.dcs.retry_timeout], [10, 2, 4]);
  assert.equal(doc.etcd3.hosts, '198.18.10.2:2379,198.18.10.1:2379');
  assert.equal(doc.postgresql.listen, '127.0.0.1,198.18.10.2,198.18.11.2:5432');
  assert.equal(doc.postgresql.connect_address, '198.18.10.2:5432');
  assert.equal(doc.restapi.connect_address, '198.18.10.2:8008');
  assert.ok(doc.bootstrap.pg_hba.every((line) => line.endsWith(' md5') || line.endsWith(' reject')));
  assert.equal(doc.bootstrap.dcs.postgresql.parameters.password_encryption, 'md5');
  assert.equal(doc.postgresql.data_dir, '/tmp/lab/h2/data');
});

test('the etcd cut: TCP to the client port from one cgroup, dropped in the output hook', () => {
  const rules = etcdCutRules('unified/keel-chaos-abcd-h1', 1);
  assert.match(rules, /type filter hook output priority 0; policy accept;/);
  assert.match(rules, /tcp dport 2379 socket cgroupv2 level 1 "unified\/keel-chaos-abcd-h1" drop/);
});

test('cgroup v2 mount point from mountinfo (hybrid and unified hosts), a clear error without one', () => {
  const hybrid = [
    '30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755',
    '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw',
    '32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
  ].join('\n');
  assert.equal(cgroup2Mount(hybrid), '/sys/fs/cgroup/unified');
  assert.equal(cgroup2Mount('29 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate'), '/sys/fs/cgroup');
  assert.throws(() => cgroup2Mount('32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory'), /no cgroup2 file system mounted/);
});
