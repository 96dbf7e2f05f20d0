/**
 * `keel systemd-unit`: the unit text (restart policy, the postgres user, limits, a stop timeout
 * that covers pg_ctl's, the watchdog set-up only when the watchdog is on), and systemd's own
 * parser (`systemd-analyze verify`) finds nothing to complain about.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderSystemdUnit, type SystemdUnitOptions } from '../../../src/cli/systemd-command.js';

const OPTIONS: SystemdUnitOptions = {
  scope: 'postgres-cluster',
  name: 'node1',
  nodeBinary: process.execPath,
  keelMain: '/opt/keel/dist/src/cli/main.js',
  configFile: '/etc/keel/node1.yml',
  user: 'postgres',
  pgCtlTimeoutMs: 60_000,
  watchdogMode: 'automatic',
  watchdogDevice: '/dev/watchdog',
};

const lines = (text: string) => text.split('\n');

test('the agent runs as postgres, restarts on failure, stops PostgreSQL itself in time, with raised limits', () => {
  const text = renderSystemdUnit(OPTIONS);
  for (const line of [
    '[Unit]',
    'After=network-online.target',
    '[Service]',
    'User=postgres',
    'Group=postgres',
    `ExecStart=${process.execPath} /opt/keel/dist/src/cli/main.js agent /etc/keel/node1.yml`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    'KillMode=process',
    'TimeoutStopSec=90',
    'Restart=on-failure',
    'RestartSec=5s',
    'LimitNOFILE=65536',
    'WantedBy=multi-user.target',
  ])
    assert.ok(lines(text).includes(line), `missing: ${line}`);
  assert.ok(lines(text).includes('ExecStartPre=-+/sbin/modprobe softdog'));
  assert.ok(lines(text).includes('ExecStartPre=-+/bin/chown postgres /dev/watchdog'));
});

test('another watchdog.device is the one given to the agent user (keel-fence opens it as that user)', () => {
  const text = renderSystemdUnit({ ...OPTIONS, watchdogDevice: '/dev/watchdog1' });
  assert.ok(lines(text).includes('ExecStartPre=-+/bin/chown postgres /dev/watchdog1'));
  assert.ok(!lines(text).includes('ExecStartPre=-+/bin/chown postgres /dev/watchdog'));
});

test('watchdog off: no watchdog set-up; the stop timeout follows pg_ctl_timeout', () => {
  const text = renderSystemdUnit({ ...OPTIONS, watchdogMode: 'off', pgCtlTimeoutMs: 120_500 });
  assert.ok(!text.includes('ExecStartPre'));
  assert.ok(lines(text).includes('TimeoutStopSec=151'));
});

test('systemd-analyze verify accepts the unit without a warning', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-unit-'));
  try {
    const file = join(dir, 'keel.service');
    writeFileSync(file, renderSystemdUnit({ ...OPTIONS, keelMain: file }));
    const result = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr.trim(), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
