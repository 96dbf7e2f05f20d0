/**
 * stream-recheck.ts: a replica pointed at a leader and not streaming yet is looked at every
 * second for its first 5 s, and reloaded at most once a second in that window (from 0.5 s on) so
 * that PostgreSQL's WAL receiver tries again instead of waiting wal_retrieve_retry_interval; a
 * receiver left on a dead connection (silent while its source published WAL it lacks) is restarted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RECEIVER_RESTART_EVERY_MS,
  SILENT_RECEIVER_MS,
  silentReceiverRestartDue,
  streamRecheckAtMs,
  walReceiverNudgeDue,
  type ReceiverFacts,
} from '../../../src/ha/stream-recheck.js';
import { obs } from './fixtures.js';

const notStreamingFor = (ms: number, followTarget: string | null = 'n1') =>
  obs({ postgres: { streaming: false, followTarget, notStreamingSinceMs: 100_000 - ms } });

test('a streaming replica is neither rechecked nor nudged', () => {
  const streaming = obs();
  assert.equal(streamRecheckAtMs(streaming, null), null);
  assert.equal(walReceiverNudgeDue(streaming, null, null), false);
});

test('not streaming for 0.5 to 5 s: rechecked in a second, and nudged once a second', () => {
  assert.equal(streamRecheckAtMs(notStreamingFor(200), null), 101_000);
  assert.equal(walReceiverNudgeDue(notStreamingFor(200), null, null), false, 'the first attempt after a repoint is not interrupted');
  assert.equal(walReceiverNudgeDue(notStreamingFor(1200), null, null), true);
  assert.equal(walReceiverNudgeDue(notStreamingFor(1200), 99_500, null), false, 'nudged half a second ago');
  assert.equal(walReceiverNudgeDue(notStreamingFor(2200), 99_000, null), true);
});

test('past 5 s of not streaming (the source is down, a password is wrong): left to PostgreSQL and the loop', () => {
  assert.equal(streamRecheckAtMs(notStreamingFor(6000), null), null);
  assert.equal(walReceiverNudgeDue(notStreamingFor(6000), null, null), false);
});

test('a replica with no source to follow is not nudged', () => {
  assert.equal(walReceiverNudgeDue(notStreamingFor(1200, null), null, null), false);
});

test('repointed: rechecked for 5 s even while the probe says streaming; nudged once it does not, counting from the repoint', () => {
  // PostgreSQL shows a starting WAL receiver as streaming before its connection is refused
  assert.equal(streamRecheckAtMs(obs(), 99_800), 100_300, 'first looked at 0.5 s after the repoint');
  assert.equal(streamRecheckAtMs(obs(), 99_000), 101_000);
  assert.equal(streamRecheckAtMs(obs(), 94_000), null);
  // seen not streaming only now, 1 s after the repoint: its attempts failed, nudge at once
  assert.equal(walReceiverNudgeDue(notStreamingFor(0), null, 99_000), true);
  assert.equal(walReceiverNudgeDue(notStreamingFor(0), null, 99_800), false, 'repointed 0.2 s ago: its first attempt may still succeed');
});

// A WAL receiver left on a dead connection (silentReceiverRestartDue): bench/chaos replica-isolated
// streamed again 13-14 s after the heal, TCP resuming the old connection at its next retransmission.
const stuck: ReceiverFacts = {
  inRecovery: true,
  status: 'streaming',
  pid: 4242,
  silentMs: 41_000,
  receiveLsn: 0x3f000000,
  sourcePublishedLsn: 0x5a000000,
};

test('a streaming receiver silent past SILENT_RECEIVER_MS while its source published WAL it lacks is restarted, once per RECEIVER_RESTART_EVERY_MS', () => {
  assert.equal(silentReceiverRestartDue(stuck, null, 100_000), true);
  assert.equal(silentReceiverRestartDue({ ...stuck, silentMs: SILENT_RECEIVER_MS }, null, 100_000), true);
  assert.equal(silentReceiverRestartDue(stuck, 100_000 - RECEIVER_RESTART_EVERY_MS + 1, 100_000), false, 'restarted moments ago');
  assert.equal(silentReceiverRestartDue(stuck, 100_000 - RECEIVER_RESTART_EVERY_MS, 100_000), true);
});

test('a live stream never qualifies: recent messages, an idle source (nothing published beyond us), or no fresh source position', () => {
  assert.equal(silentReceiverRestartDue({ ...stuck, silentMs: SILENT_RECEIVER_MS - 1 }, null, 100_000), false, 'heard from recently');
  assert.equal(silentReceiverRestartDue({ ...stuck, sourcePublishedLsn: stuck.receiveLsn }, null, 100_000), false, 'idle source, silent by design');
  assert.equal(silentReceiverRestartDue({ ...stuck, sourcePublishedLsn: 0x30000000 }, null, 100_000), false, 'a stale member key behind us');
  assert.equal(silentReceiverRestartDue({ ...stuck, sourcePublishedLsn: null }, null, 100_000), false);
  assert.equal(silentReceiverRestartDue({ ...stuck, receiveLsn: null }, null, 100_000), false);
  assert.equal(silentReceiverRestartDue({ ...stuck, silentMs: null }, null, 100_000), false);
});

test('only a running receiver of a replica is restarted', () => {
  assert.equal(silentReceiverRestartDue({ ...stuck, inRecovery: false }, null, 100_000), false);
  assert.equal(silentReceiverRestartDue({ ...stuck, status: 'catchup' }, null, 100_000), false);
  assert.equal(silentReceiverRestartDue({ ...stuck, status: null, pid: null }, null, 100_000), false);
  assert.equal(silentReceiverRestartDue({ ...stuck, pid: null }, null, 100_000), false);
});
