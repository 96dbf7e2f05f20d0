/**
 * The agent's log: the JSON line shape (ts, level, msg, fields), secrets redacted in both
 * formats, the level filter, and log.dir's file rotated as Patroni's RotatingFileHandler
 * (patroni.log, patroni.log.1 newest ... patroni.log.N, oldest dropped).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type LoggerOptions } from '../../../src/observability/log.js';
import { RotatingLogFile } from '../../../src/observability/log-file.js';
import { openAgentLog } from '../../../src/cli/agent-log.js';
import { KeelError } from '../../../src/errors.js';
import { load, minimal, setPath } from '../config/helpers.js';

const FIXED = new Date('2026-12-02T12:34:56.789Z');

function capture(options: Partial<LoggerOptions> = {}): { lines: string[]; options: LoggerOptions } {
  const lines: string[] = [];
  return { lines, options: { level: 'info', format: 'json', now: () => FIXED, write: (l) => lines.push(l), ...options } };
}

test('json: one object per line with ts, level, msg and fields', () => {
  const { lines, options } = capture();
  const log = createLogger(options, { member: 'n1' });
  log.info('no action. I am (n1), the leader with the lock', { why: 'leaderKeepsLock' });
  log.child({ task: 'promote' }).warning('slow');
  assert.equal(lines.length, 2);
  assert.deepEqual(JSON.parse(lines[0] as string), {
    ts: '2026-12-02T12:34:56.789Z',
    level: 'info',
    msg: 'no action. I am (n1), the leader with the lock',
    fields: { member: 'n1', why: 'leaderKeepsLock' },
  });
  assert.deepEqual(JSON.parse(lines[1] as string).fields, { member: 'n1', task: 'promote' });
  assert.ok(!(lines[0] as string).includes('\n'));
});

test('json: a line without fields still has an empty fields object', () => {
  const { lines, options } = capture();
  createLogger(options).error('boom');
  assert.deepEqual(JSON.parse(lines[0] as string), { ts: FIXED.toISOString(), level: 'error', msg: 'boom', fields: {} });
});

test('secrets are redacted in the message and the fields, in both formats', () => {
  for (const format of ['json', 'text'] as const) {
    const { lines, options } = capture({ format });
    const log = createLogger(options);
    log.info("connecting with host=10.0.0.1 user=replicator password='s3 cret' dbname=postgres", {
      password: 'hunter2',
      superuser: { username: 'postgres', password: 'pg-secret' },
      primary_conninfo: 'host=10.0.0.1 password=plain-secret',
      url: 'postgres://replicator:url-secret@10.0.0.1:5432/postgres',
      etcdToken: 'tok',
    });
    const line = lines[0] as string;
    for (const secret of ['s3 cret', 'hunter2', 'pg-secret', 'plain-secret', 'url-secret', 'tok'])
      assert.ok(!line.includes(secret), `${format}: ${secret} leaked: ${line}`);
    assert.ok(line.includes('<redacted>'));
    assert.ok(line.includes('replicator'), 'user names are kept');
  }
});

test('the level filter drops lines below log.level', () => {
  const { lines, options } = capture({ level: 'warning', format: 'text' });
  const log = createLogger(options);
  log.debug('d');
  log.info('i');
  log.warning('w');
  log.error('e');
  assert.deepEqual(
    lines.map((l) => l.split(' ')[2]),
    ['WARNING:', 'ERROR:'],
  );
  assert.equal(lines[0], '2026-12-02 12:34:56.789 WARNING: w');
});

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'keel-log-'));
}

test('log.dir: patroni.log rotated at file_size, file_num old files kept, oldest dropped', () => {
  const dir = tempDir();
  try {
    const file = new RotatingLogFile({ dir: join(dir, 'sub'), sizeMaxBytes: 100, keptFiles: 2 });
    file.open();
    const line = (n: number): string => `line ${String(n).padStart(3, '0')} ${'x'.repeat(30)}`; // 40 bytes + newline
    for (let n = 1; n <= 9; n++) file.write(line(n));
    file.close();
    const names = readdirSync(join(dir, 'sub')).sort();
    assert.deepEqual(names, ['patroni.log', 'patroni.log.1', 'patroni.log.2']);
    const read = (name: string): string[] =>
      readFileSync(join(dir, 'sub', name), 'utf8')
        .trimEnd()
        .split('\n');
    // two 41-byte lines fit in 100 bytes, a third would not
    assert.deepEqual(read('patroni.log'), [line(9)]);
    assert.deepEqual(read('patroni.log.1'), [line(7), line(8)]);
    assert.deepEqual(read('patroni.log.2'), [line(5), line(6)]);
    for (const name of names) assert.ok(statSync(join(dir, 'sub', name)).size <= 100);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('log.dir: file_num 0 or file_size 0 never rotates; an existing file is appended to', () => {
  const dir = tempDir();
  try {
    for (const [sizeMaxBytes, keptFiles] of [
      [0, 4],
      [10, 0],
    ] as const) {
      rmSync(join(dir, 'patroni.log'), { force: true });
      const first = new RotatingLogFile({ dir, sizeMaxBytes, keptFiles });
      first.write('a'.repeat(20));
      first.close();
      const second = new RotatingLogFile({ dir, sizeMaxBytes, keptFiles });
      second.write('b'.repeat(20));
      second.close();
      assert.deepEqual(readdirSync(dir), ['patroni.log']);
      assert.equal(readFileSync(join(dir, 'patroni.log'), 'utf8'), `${'a'.repeat(20)}\n${'b'.repeat(20)}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('patroni.yml log section: level, type, dir, file_size and file_num are read with Patroni defaults', () => {
  const none = load(minimal());
  assert.equal(none.log.file, undefined);
  assert.equal(none.log.level, 'info');
  const withDir = load(setPath(setPath(minimal(), 'log.dir', '/var/log/keel'), 'log.level', 'DEBUG'));
  assert.deepEqual(withDir.log.file, { dir: '/var/log/keel', sizeMaxBytes: 25_000_000, keptFiles: 4 });
  assert.equal(withDir.log.level, 'debug');
  assert.ok(!withDir.warnings.some((w) => w.includes('log.dir')), 'log.dir is honoured, not warned about');
  const sized = load(setPath(setPath(setPath(minimal(), 'log.dir', '/x'), 'log.file_size', 1000), 'log.file_num', 0));
  assert.deepEqual(sized.log.file, { dir: '/x', sizeMaxBytes: 1000, keptFiles: 0 });
});

test('the agent log: log.dir receives the lines, stderr does not; a bad --log-format is a one-line error', () => {
  const dir = tempDir();
  try {
    const config = load(setPath(setPath(setPath(minimal(), 'log.dir', join(dir, 'logs')), 'log.level', 'WARNING'), 'log.type', 'json'));
    const log = openAgentLog('node.yml', config, {});
    assert.ok(log !== null);
    log.info('dropped by the level');
    log.warning('kept', { password: 'x' });
    const lines = readFileSync(join(dir, 'logs', 'patroni.log'), 'utf8')
      .trimEnd()
      .split('\n');
    assert.equal(lines.length, 1);
    assert.deepEqual({ ...JSON.parse(lines[0] as string), ts: 'T' }, { ts: 'T', level: 'warning', msg: 'kept', fields: { password: '<redacted>' } });
    assert.throws(
      () => openAgentLog('node.yml', config, { logFormat: 'xml' }),
      (error: unknown) => error instanceof KeelError && error.exitCode === 2 && error.message === '--log-format: expected json or text, got "xml"',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the agent log: a log.dir that cannot be created fails before anything starts', () => {
  const dir = tempDir();
  try {
    // a file where the directory should be
    new RotatingLogFile({ dir, sizeMaxBytes: 0, keptFiles: 0 }).write('x');
    const config = load(setPath(minimal(), 'log.dir', join(dir, 'patroni.log', 'below-a-file')));
    assert.throws(
      () => openAgentLog('node.yml', config, {}),
      (error: unknown) => error instanceof KeelError && /^log\.dir: cannot write .*patroni\.log: ENOTDIR$/.test(error.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
