/**
 * The local MariaDB node, the only module of the Galera agent that touches processes and files:
 * data directory set-up, grastate.dat, `mariadbd --wsrep-recover`, starting mariadbd with the
 * rendered option file, and SQL over the node's socket (mysql2).
 *
 * mariadbd refuses to run as root. When keel runs as root, every MariaDB program is spawned with
 * the uid/gid of the `mysql` OS user (created by the mariadb-server package) and the directories
 * keel creates for it are chowned to that user; otherwise keel's own user runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { KeelError } from '../errors.js';
import { lookupUser, type OsUser } from '../postgres/os-user.js';
import { runProgramAs } from './run-as.js';
import type { GaleraNodeConfig } from './config.js';
import { type GraState, parseGrastate, parseRecoveredPosition, renderGrastate } from './grastate.js';
import type { GaleraPosition } from './core/position.js';
import { type WsrepStatus, wsrepStatusFrom } from './health.js';

const RECOVER_TIMEOUT_MS = 300_000;
const INSTALL_TIMEOUT_MS = 120_000;
const SQL_CONNECT_TIMEOUT_MS = 2_000;

let cachedMysqlUser: OsUser | null | undefined;

/** The identity MariaDB runs as: `mysql` when keel is root, null (keel's own) otherwise. */
export function mysqlRunAs(): OsUser | null {
  if (process.getuid === undefined || process.getuid() !== 0) return null;
  if (cachedMysqlUser === undefined) cachedMysqlUser = lookupUser('mysql', readFileSync('/etc/passwd', 'utf8'));
  if (cachedMysqlUser === null) {
    throw new KeelError('galera.no_os_user', 'keel runs as root but there is no "mysql" OS user to run MariaDB as', {
      hint: 'install mariadb-server (it creates the user) or run keel as the user that owns the data directory',
    });
  }
  return cachedMysqlUser;
}

export class LocalMariadb {
  readonly optionFile: string;
  readonly errorLog: string;
  readonly pidFile: string;
  private readonly recoverLog: string;

  constructor(
    readonly name: string,
    readonly node: GaleraNodeConfig,
  ) {
    this.optionFile = join(node.configDir, 'my.cnf');
    this.errorLog = join(node.configDir, 'error.log');
    this.pidFile = join(node.configDir, 'mariadbd.pid');
    this.recoverLog = join(node.configDir, 'recover.log');
  }

  private async give(path: string): Promise<void> {
    const user = mysqlRunAs();
    if (user !== null) await chown(path, user.uid, user.gid);
  }

  /** Creates the config and data directories (owned by the MariaDB user). */
  async prepareDirectories(): Promise<void> {
    for (const dir of [this.node.configDir, this.node.dataDir]) {
      await mkdir(dir, { recursive: true, mode: 0o750 });
      await this.give(dir);
    }
  }

  /** True when the data directory holds a MariaDB system schema (initialised or received by SST). */
  hasData(): boolean {
    return existsSync(join(this.node.dataDir, 'mysql'));
  }

  async writeOptionFile(text: string): Promise<void> {
    await writeFile(this.optionFile, text, { mode: 0o600 });
    await this.give(this.optionFile);
  }

  /** mariadb-install-db for a new cluster's first node; root@localhost gets an empty password until keel replaces it. */
  async installDb(): Promise<void> {
    const entries = await readdir(this.node.dataDir).catch(() => []);
    if (entries.length > 0 && this.hasData()) return;
    const result = await runProgramAs(
      mysqlRunAs(),
      this.node.installDb,
      [`--defaults-file=${this.optionFile}`, '--auth-root-authentication-method=normal', '--skip-test-db'],
      INSTALL_TIMEOUT_MS,
    );
    if (result.code !== 0) throw new KeelError('galera.install_failed', `mariadb-install-db failed: ${result.tail}`);
  }

  async readGrastate(): Promise<GraState | null> {
    let text: string;
    try {
      text = await readFile(join(this.node.dataDir, 'grastate.dat'), 'utf8');
    } catch {
      return null;
    }
    const parsed = parseGrastate(text);
    if (!parsed.ok) throw new KeelError('galera.bad_grastate', `${join(this.node.dataDir, 'grastate.dat')}: ${parsed.error}`);
    return parsed.value;
  }

  async writeGrastate(state: GraState): Promise<void> {
    const path = join(this.node.dataDir, 'grastate.dat');
    await writeFile(path, renderGrastate(state), { mode: 0o660 });
    await this.give(path);
  }

  /** `mariadbd --wsrep-recover`: the last committed position InnoDB holds (grastate.dat says -1 after a crash). */
  async recoverPosition(): Promise<GaleraPosition> {
    await rm(this.recoverLog, { force: true });
    const result = await runProgramAs(
      mysqlRunAs(),
      this.node.mariadbd,
      [`--defaults-file=${this.optionFile}`, '--wsrep-recover', `--log-error=${this.recoverLog}`],
      RECOVER_TIMEOUT_MS,
    );
    const log = await readFile(this.recoverLog, 'utf8').catch(() => '');
    const parsed = parseRecoveredPosition(`${log}\n${result.output}`);
    if (!parsed.ok)
      throw new KeelError(
        'galera.recover_failed',
        `mariadbd --wsrep-recover: ${parsed.error}${result.code === 0 ? '' : ` (exit ${String(result.code)}: ${result.tail})`}`,
      );
    return parsed.value;
  }

  /** Starts mariadbd in its own process group: it outlives an agent that crashes, as PostgreSQL does under Patroni. */
  start(extraArgs: string[]): ChildProcess {
    const user = mysqlRunAs();
    const child = spawn(this.node.mariadbd, [`--defaults-file=${this.optionFile}`, ...extraArgs], {
      cwd: '/',
      detached: true,
      stdio: 'ignore',
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: user?.home ?? '/' },
      ...(user === null ? {} : { uid: user.uid, gid: user.gid }),
    });
    child.unref();
    return child;
  }

  /** The pid of a mariadbd left running by an earlier agent (its pid file names a live process). */
  runningPid(): number | null {
    try {
      const pid = Number(readFileSync(this.pidFile, 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 0) return null;
      process.kill(pid, 0);
      return pid;
    } catch {
      return null;
    }
  }

  async connect(user: { username: string; password: string }): Promise<mysql.Connection> {
    return mysql.createConnection({ socketPath: this.node.socket, user: user.username, password: user.password, connectTimeout: SQL_CONNECT_TIMEOUT_MS });
  }

  /** wsrep status over the socket; null when the server does not answer. */
  async status(user: { username: string; password: string }): Promise<WsrepStatus | null> {
    let connection: mysql.Connection | null = null;
    try {
      connection = await this.connect(user);
      const [rows] = await connection.query<mysql.RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'wsrep%'");
      const [ro] = await connection.query<mysql.RowDataPacket[]>('SELECT @@global.read_only AS ro');
      const list = rows.map((row) => ({ name: String(row['Variable_name']), value: String(row['Value']) }));
      return wsrepStatusFrom(list, Number(ro[0]?.['ro'] ?? 0) === 1);
    } catch {
      return null;
    } finally {
      await connection?.end().catch(() => undefined);
    }
  }

  /** Makes this node's Non-Primary component the Primary one (the seed's manual pc.bootstrap). */
  async pcBootstrap(user: { username: string; password: string }): Promise<void> {
    const connection = await this.connect(user);
    try {
      await connection.query("SET GLOBAL wsrep_provider_options = 'pc.bootstrap=YES'");
    } finally {
      await connection.end().catch(() => undefined);
    }
  }

  /**
   * On the node that created the cluster: the account keel uses, on every host (it replicates to
   * the joiners), and root@localhost left to the OS root alone (unix_socket) instead of the
   * empty password mariadb-install-db gave it.
   */
  async createSuperuser(user: { username: string; password: string }): Promise<void> {
    const root = await this.connect({ username: 'root', password: '' });
    try {
      for (const host of ['localhost', '%']) {
        await root.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [user.username, host, user.password]);
        await root.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [user.username, host]);
      }
      await root.query('ALTER USER root@localhost IDENTIFIED VIA unix_socket');
    } finally {
      await root.end().catch(() => undefined);
    }
  }
}
