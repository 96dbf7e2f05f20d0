/**
 * `keel systemd-unit -c node.yml` — prints a systemd unit that runs this node's agent, for
 * /etc/systemd/system/keel.service. The text comes from `renderSystemdUnit` (pure, tested); the
 * configuration file supplies the member's name, PostgreSQL's stop timeout and the watchdog mode.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeelError } from '../errors.js';
import { loadConfigFile } from '../config/load.js';
import type { WatchdogMode } from '../config/types.js';

export interface SystemdUnitOptions {
  scope: string;
  name: string;
  /** Absolute paths: the node binary, keel's main.js and the configuration file. */
  nodeBinary: string;
  keelMain: string;
  configFile: string;
  /** The OS user the agent (and PostgreSQL) runs as. */
  user: string;
  /** postgresql.pg_ctl_timeout: the agent may take this long to stop PostgreSQL. */
  pgCtlTimeoutMs: number;
  watchdogMode: WatchdogMode;
  /** watchdog.device: given to the agent's user, since keel-fence opens it as that user. */
  watchdogDevice: string;
}

/** Time systemd grants the agent to stop beyond pg_ctl's own timeout (leader key release, logs). */
const STOP_MARGIN_S = 30;

/** The unit text (pure). */
export function renderSystemdUnit(o: SystemdUnitOptions): string {
  const watchdog =
    o.watchdogMode === 'off'
      ? []
      : [
          '# the watchdog resets the host if the agent hangs while PostgreSQL still takes writes; "+": as root',
          'ExecStartPre=-+/sbin/modprobe softdog',
          `ExecStartPre=-+/bin/chown ${o.user} ${o.watchdogDevice}`,
        ];
  return [
    `# keel agent of member ${o.name} in cluster ${o.scope}, written by keel systemd-unit`,
    '# install: keel systemd-unit -c FILE > /etc/systemd/system/keel.service && systemctl daemon-reload && systemctl enable --now keel',
    '[Unit]',
    `Description=keel agent (PostgreSQL high availability) for ${o.scope}/${o.name}`,
    '# etcd and the other members are reached over the network',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${o.user}`,
    `Group=${o.user}`,
    ...watchdog,
    `ExecStart=${o.nodeBinary} ${o.keelMain} agent ${o.configFile}`,
    '# SIGHUP: reload the configuration file (as Patroni)',
    'ExecReload=/bin/kill -HUP $MAINPID',
    '# only the agent gets the stop signal: it stops PostgreSQL itself, cleanly, and releases the leader key;',
    '# a restarted agent adopts a PostgreSQL still running instead of systemd killing it under the agent',
    'KillMode=process',
    `TimeoutStopSec=${Math.ceil(o.pgCtlTimeoutMs / 1000) + STOP_MARGIN_S}`,
    '# an agent that dies comes back: a primary left without its agent loses the leader key at the TTL',
    'Restart=on-failure',
    'RestartSec=5s',
    '# PostgreSQL is a child of the agent: its file and process limits are these',
    'LimitNOFILE=65536',
    'LimitNPROC=65536',
    'NoNewPrivileges=true',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

const OS_USER = /^[a-z_][a-z0-9_-]*\$?$/;

export function registerSystemdCommand(program: Command): void {
  program
    .command('systemd-unit')
    .description("print a systemd unit that runs this node's agent (for /etc/systemd/system/keel.service)")
    .option('-c, --config-file <file>', 'the node configuration file (default: keel -c)')
    .option('--user <name>', 'OS user of the agent and PostgreSQL', 'postgres')
    .action((flags: { configFile?: string; user: string }) => {
      const file = flags.configFile ?? program.opts<{ configFile?: string }>().configFile;
      if (file === undefined) throw new KeelError('cli.no_config', 'no configuration file given', { hint: 'pass -c FILE', exitCode: 2 });
      if (!OS_USER.test(flags.user)) throw new KeelError('cli.bad_option', `--user must be an OS user name, got "${flags.user}"`, { exitCode: 2 });
      const config = loadConfigFile(file, process.env);
      process.stdout.write(
        renderSystemdUnit({
          scope: config.scope,
          name: config.name,
          nodeBinary: process.execPath,
          keelMain: fileURLToPath(new URL('./main.js', import.meta.url)),
          configFile: resolve(file),
          user: flags.user,
          pgCtlTimeoutMs: config.postgresql.pgCtlTimeoutMs,
          watchdogMode: config.watchdog.mode,
          watchdogDevice: config.watchdog.device,
        }),
      );
    });
}
