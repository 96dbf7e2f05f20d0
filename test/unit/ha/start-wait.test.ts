/**
 * startAndWait (ha/tasks.ts) on a server that refuses keel's connection: a pg_hba without a line
 * for where keel connects (found on three hosts with a production pg_hba) used to show nothing in
 * the agent's log until pg_ctl_timeout had passed. A refusal (SQLSTATE class 28) is logged at
 * once, once per wait; the wait itself is unchanged (the server answering later still counts), and
 * errors of a server still starting (57P03) are not refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAndWait } from '../../../src/ha/tasks.js';
import type { AgentContext } from '../../../src/ha/context.js';

/** A pg error as node-postgres throws it: the message and the SQLSTATE in `code`. */
function pgError(code: string, text: string): Error {
  return Object.assign(new Error(text), { code });
}

/** The parts of the agent startAndWait uses, with a probe that fails with `failures` before it answers. */
function agentWith(failures: Error[]): { a: AgentContext; warnings: string[]; probes: () => number } {
  let now = 0;
  let probes = 0;
  const warnings: string[] = [];
  const pg = {
    expectedRunning: false,
    crashedSinceMs: null,
    notStreamingSinceMs: null,
    writeConfig: async () => undefined,
    syncHba: async () => false,
    node: {
      postmasterPid: async () => (probes === 0 ? null : 4242),
      reload: async () => true,
      start: async () => undefined,
      probe: async () => {
        const failure = failures[probes++];
        if (failure !== undefined) throw failure;
        return {};
      },
      serverLogText: async () => '',
    },
  };
  const a = {
    pg,
    ports: { clock: { now: () => now, sleep: async (ms: number) => void (now += ms) } },
    local: () => ({ postgresql: { pgCtlTimeoutMs: 60_000 } }),
    log: {
      warning: (message: string) => void warnings.push(message),
      info: () => undefined,
      debug: () => undefined,
      error: () => undefined,
    },
  };
  return { a: a as unknown as AgentContext, warnings, probes: () => probes };
}

test('a server refusing keel (pg_hba) is named in the log at the first refusal, once, and the wait goes on', async () => {
  const rejected = pgError('28000', 'pg_hba.conf rejects connection for host "127.0.0.1", user "postgres", database "postgres", no encryption');
  const { a, warnings, probes } = agentWith([rejected, rejected, rejected]);
  await startAndWait(a, { callback: null, timeoutMs: 10_000 });
  assert.equal(probes(), 4, 'the wait went on until the server answered');
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(
    warnings[0] ?? '',
    /^PostgreSQL refuses keel's connection: pg_hba\.conf rejects connection for host "127\.0\.0\.1".*; pg_hba must let the superuser in where keel connects/,
  );
});

test('a wrong password is a refusal too; a server still starting is not', async () => {
  const wrongPassword = agentWith([pgError('28P01', 'password authentication failed for user "postgres"')]);
  await startAndWait(wrongPassword.a, { callback: null, timeoutMs: 10_000 });
  assert.equal(wrongPassword.warnings.length, 1);
  assert.match(wrongPassword.warnings[0] ?? '', /password authentication failed/);

  const starting = agentWith([pgError('57P03', 'the database system is starting up'), new Error('connect ECONNREFUSED 127.0.0.1:5432')]);
  await startAndWait(starting.a, { callback: null, timeoutMs: 10_000 });
  assert.deepEqual(starting.warnings, []);
  assert.equal(starting.probes(), 3);
});
