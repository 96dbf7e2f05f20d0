/**
 * `keel demo --failover`: a writer through HAProxy's write port, a kill -9 of the leader (agent
 * and PostgreSQL), then what happened: who took over and by which rule, how long writes were
 * unavailable, and whether any acknowledged write was lost. The killed node is started again and
 * rejoins as a replica. Printing only; the writer is src/sandbox/demo-writer.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { createHttpPeerClient } from '../api/peer-client.js';
import { restClientSettings } from '../config/rest-client-settings.js';
import { loadConfigFile } from '../config/load.js';
import { explainCluster } from '../ha/explain.js';
import { fetchPeers } from '../ha/peers.js';
import { DemoWriter, analyseFailoverWrites, storedIds, type DemoWriterTarget } from '../sandbox/demo-writer.js';
import { sandboxDcs, spawnAgent, waitForCluster, writeRecord, type SandboxRecord } from '../sandbox/sandbox.js';
import { waitForRouting } from '../sandbox/haproxy.js';
import { sleep } from './cluster-session.js';

const WRITES_BEFORE_MS = 3000;
const WRITES_AFTER_MS = 3000;
const NEW_LEADER_TIMEOUT_MS = 180_000;
const REJOIN_TIMEOUT_MS = 300_000;

async function leaderName(record: SandboxRecord): Promise<string | null> {
  const dcs = sandboxDcs(record, 'keel-demo');
  try {
    return (await dcs.loadCluster()).leader?.name ?? null;
  } finally {
    await dcs.close();
  }
}

/** Each member's answer to "would it take over if the leader were lost now", by the agents' own race rule. */
async function explainNow(record: SandboxRecord): Promise<Map<string, string>> {
  const local = loadConfigFile(record.nodes[0]?.config ?? '', process.env);
  const dcs = sandboxDcs(record, 'keel-demo');
  try {
    const view = await dcs.loadCluster();
    const statuses = await fetchPeers(createHttpPeerClient(restClientSettings(local)), view.members, '');
    const explained = explainCluster(view, statuses, new Date().toISOString());
    return new Map(explained.members.map((m) => [m.member, `${m.wouldTakeOver ? 'would take over' : 'would not take over'}: ${m.reason}`]));
  } finally {
    await dcs.close();
  }
}

async function postmasterPid(dataDir: string): Promise<number | null> {
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function kill9(pid: number | null): void {
  if (pid === null) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The new leader's own sentence for taking over, from its log (the agent logs every decision). */
async function takeOverSentence(logFile: string): Promise<string | null> {
  const lines = (await readFile(logFile, 'utf8').catch(() => '')).split('\n');
  const line = lines.reverse().find((l) => /promoted self to leader|acquired session lock/.test(l));
  return line === undefined ? null : line.replace(/^\S+ \S+ \w+: /, '').replace(/ why=\S+$/, '');
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export async function runFailoverDemo(record: SandboxRecord, dir: string, password: string, out: (line: string) => void): Promise<void> {
  const haproxy = record.haproxy;
  if (haproxy === undefined) throw new KeelError('demo.no_haproxy', 'the demo cluster has no HAProxy');
  const target: DemoWriterTarget = { host: record.host, port: haproxy.writePort, password };
  const oldLeader = await leaderName(record);
  const victim = record.nodes.find((n) => n.name === oldLeader);
  if (victim === undefined) throw new KeelError('demo.no_leader', 'the demo cluster has no leader to kill');

  out('');
  out(
    `failover: a writer inserts rows through HAProxy (${record.host}:${haproxy.writePort}), then the leader ${victim.name} is killed (kill -9 of its agent and PostgreSQL)`,
  );
  const predicted = await explainNow(record);
  for (const [member, answer] of predicted) if (member !== victim.name) out(`  before the kill, ${member} ${answer}`);
  const writer = new DemoWriter(target);
  await writer.start();
  try {
    await sleep(WRITES_BEFORE_MS);
    const postmaster = await postmasterPid(victim.dataDir);
    kill9(postmaster);
    kill9(victim.pid);
    const killAtMs = performance.now();
    out(`  killed ${victim.name} after ${writer.acks.length} acknowledged writes; waiting for a new leader...`);
    const deadline = performance.now() + NEW_LEADER_TIMEOUT_MS;
    let newLeader: string | null = null;
    while (performance.now() < deadline) {
      const holder = await leaderName(record).catch(() => null);
      if (holder !== null && holder !== victim.name) {
        newLeader = holder;
        break;
      }
      await sleep(200);
    }
    if (newLeader === null) throw new KeelError('demo.no_failover', `no new leader within ${NEW_LEADER_TIMEOUT_MS / 1000}s`);
    const elected = newLeader;
    await waitForRouting(record.host, haproxy, elected, NEW_LEADER_TIMEOUT_MS);
    while (!writer.acks.some((a) => a.atMs > killAtMs) && performance.now() < deadline) await sleep(100);
    await sleep(WRITES_AFTER_MS);
    await writer.stop();
    const newNode = record.nodes.find((n) => n.name === elected);
    const report = analyseFailoverWrites(writer.acks, killAtMs, { old: victim.pgPort, new: newNode?.pgPort ?? 0 }, await storedIds(target));
    out('');
    out(`  who took over:   ${elected}${predicted.has(elected) ? ` (before the kill it ${predicted.get(elected) ?? ''})` : ''}`);
    const sentence = newNode === undefined ? null : await takeOverSentence(newNode.logFile);
    if (sentence !== null) out(`  its agent said:  ${sentence}`);
    const gap = report.gapMs === null ? 'no write acknowledged by the new leader' : seconds(report.gapMs);
    out(`  writes:          ${report.acknowledged} acknowledged; none for ${gap} (last by ${victim.name} -> first by ${elected})`);
    if (report.fromFaultMs !== null) out(`                   ${seconds(report.fromFaultMs)} from the kill to the first write acknowledged by ${elected}`);
    if (report.lost.length === 0) out('  lost:            no acknowledged write lost');
    else {
      out(`  lost:            ${report.lost.length} acknowledged write(s) missing on ${elected} (ids ${report.lost.slice(0, 10).join(', ')})`);
      out('                   asynchronous replication: a commit acknowledged by the leader but not yet streamed dies with it;');
      out('                   synchronous_mode: on (keel edit-config) makes the agents promote only a replica that has every commit');
    }
  } finally {
    await writer.stop();
  }
  victim.pid = await spawnAgent(victim.config, victim.logFile, record.runtime ?? 'keel');
  await writeRecord(dir, record);
  out(`  ${victim.name} started again (agent pid ${victim.pid}): it rejoins as a replica of the new leader...`);
  await waitForCluster(record, REJOIN_TIMEOUT_MS);
  out(`  ${victim.name} streams again`);
}
