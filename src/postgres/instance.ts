/**
 * One PostgreSQL instance on this node: its data directory and its postmaster.
 *
 * Lifecycle operations (initdb, start, stop, promote, reload, pg_basebackup, pg_rewind) run the
 * real PostgreSQL programs as the postgres OS user, each with a deadline. Invariants:
 *  - a clone is built in a sibling temporary directory and renamed into place only when
 *    pg_basebackup succeeded, so a failed clone never leaves a half-written data directory;
 *  - the data directory is created 0700 and owned by the PostgreSQL OS user;
 *  - "running" means the postmaster named in postmaster.pid is alive, nothing more.
 */
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, open, stat, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { KeelError } from '../errors.js';
import { giveToPostgres } from './os-user.js';
import { runProgram, runProgramOrFail, lastLines } from './run.js';
import { readControlData, type ControlData } from './controldata.js';
import { writeManagedConfig, appendPgHba, replacePgHba, type RecoverySettings } from './conf-files.js';
import type { DataDirState, ReplicationSource, StopMode } from './ports.js';

export interface InstancePaths {
  dataDir: string;
  configDir: string;
  binDir: string;
  /** Server log written by pg_ctl -l (outside the data directory so clones and rewinds never copy it). */
  logFile: string;
}

/** Where keel puts PostgreSQL's server log for a data directory: beside it, never inside. */
export function defaultServerLog(dataDir: string): string {
  return join(dirname(dataDir), `${basename(dataDir)}.postgresql.log`);
}

/**
 * PID of a live postmaster for `dataDir` (from its postmaster.pid), or null. Synchronous: asked
 * every HA cycle, see PostgresInstance.dataDirState.
 */
export function livePostmasterPid(dataDir: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

export class PostgresInstance {
  constructor(readonly paths: InstancePaths) {}

  private bin(name: string): string {
    return join(this.paths.binDir, name);
  }

  async dataDirState(): Promise<DataDirState> {
    // Asked every HA cycle: one stat of PG_VERSION in the usual case, not a listing of the
    // directory. Synchronous, as the other per-cycle looks at small local files (postmaster.pid,
    // the server log's size): an asynchronous call costs a round trip through libuv's thread pool
    // (four for a readFile), which made up about a tenth of an idle agent's CPU (issue 12).
    try {
      lstatSync(join(this.paths.dataDir, 'PG_VERSION'));
      return 'initialized';
    } catch {
      // not initialized: tell an empty directory from a missing one below
    }
    try {
      await readdir(this.paths.dataDir);
    } catch {
      return 'missing';
    }
    // A non-empty directory without PG_VERSION counts as empty here; isForeignNonEmpty() guards writes.
    return 'empty';
  }

  /** True when the data directory holds files but is not a PostgreSQL cluster (never overwritten). */
  async isForeignNonEmpty(): Promise<boolean> {
    try {
      const entries = await readdir(this.paths.dataDir);
      return entries.length > 0 && !entries.includes('PG_VERSION');
    } catch {
      return false;
    }
  }

  /** Creates the data directory 0700, owned by the PostgreSQL OS user (parents as needed). */
  async ensureDataDir(): Promise<void> {
    await mkdir(dirname(this.paths.dataDir), { recursive: true });
    await mkdir(this.paths.dataDir, { recursive: true, mode: 0o700 });
    await giveToPostgres(this.paths.dataDir);
  }

  /** PID of a live postmaster for this data directory, or null. */
  async postmasterPid(): Promise<number | null> {
    return livePostmasterPid(this.paths.dataDir);
  }

  async isRunning(): Promise<boolean> {
    return (await this.postmasterPid()) !== null;
  }

  async controlData(): Promise<ControlData> {
    return readControlData(this.paths.binDir, this.paths.dataDir);
  }

  /**
   * initdb as the superuser. With a password, it is set by initdb itself (`--pwfile`, as Patroni
   * does), so the first connection works whatever authentication bootstrap.initdb asks for.
   */
  async initdb(args: string[], superuser: { username: string; password?: string }): Promise<void> {
    if (await this.isForeignNonEmpty()) {
      throw new KeelError(
        'postgres.data_dir_not_empty',
        `data directory ${this.paths.dataDir} is not empty and is not a PostgreSQL cluster; refusing to initdb over it`,
        {
          hint: 'point postgresql.data_dir at an empty or absent directory',
        },
      );
    }
    await this.ensureDataDir();
    const pwfile = superuser.password === undefined ? null : `${this.paths.dataDir}.keel-pwfile`;
    try {
      if (pwfile !== null) {
        await writeFile(pwfile, `${superuser.password ?? ''}\n`, { mode: 0o600 });
        await giveToPostgres(pwfile);
      }
      const pwArgs = pwfile === null || args.some((a) => a.startsWith('--pwfile')) ? [] : [`--pwfile=${pwfile}`];
      await runProgramOrFail(
        this.bin('initdb'),
        ['-D', this.paths.dataDir, `--username=${superuser.username}`, ...pwArgs, ...args],
        { timeoutMs: 300_000 },
        'initdb',
      );
    } finally {
      if (pwfile !== null) await rm(pwfile, { force: true });
    }
  }

  async appendHba(lines: string[]): Promise<void> {
    await appendPgHba(this.paths.configDir, lines);
  }

  async replaceHba(lines: string[]): Promise<void> {
    await replacePgHba(this.paths.configDir, lines);
  }

  async writeConfig(parameters: Record<string, string>, recovery: RecoverySettings | null): Promise<void> {
    await writeManagedConfig(this.paths.dataDir, this.paths.configDir, parameters, recovery);
  }

  /** Starts the postmaster in the background; the caller polls readiness over SQL. */
  async start(timeoutMs: number): Promise<void> {
    if (await this.isRunning()) return;
    await mkdir(dirname(this.paths.logFile), { recursive: true });
    const handle = await open(this.paths.logFile, 'a', 0o640);
    await handle.close();
    await giveToPostgres(this.paths.logFile);
    const args = ['start', '-W', '-D', this.paths.dataDir, '-l', this.paths.logFile];
    if (this.paths.configDir !== this.paths.dataDir) args.push('-o', `--config-file=${join(this.paths.configDir, 'postgresql.conf')}`);
    await runProgramOrFail(this.bin('pg_ctl'), args, { timeoutMs }, 'pg_ctl start');
  }

  /** Stops the postmaster and waits for it to be gone. Returns false when it was not running. */
  async stop(mode: StopMode, timeoutMs: number): Promise<boolean> {
    if (!(await this.isRunning())) return false;
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const result = await runProgram(this.bin('pg_ctl'), ['stop', '-D', this.paths.dataDir, '-m', mode, '-w', '-t', String(seconds)], {
      timeoutMs: timeoutMs + 5000,
    });
    if (result.code !== 0 && (await this.isRunning())) {
      throw new KeelError('postgres.stop_failed', `pg_ctl stop -m ${mode} failed: ${lastLines(result.stderr, 2)}`);
    }
    return true;
  }

  /** Sends SIGKILL to the postmaster (last resort after a failed immediate stop). */
  async kill(): Promise<void> {
    const pid = await this.postmasterPid();
    if (pid !== null) process.kill(pid, 'SIGKILL');
  }

  /** Asks the postmaster to re-read its configuration (SIGHUP, as pg_ctl reload does). */
  async reload(): Promise<boolean> {
    const pid = await this.postmasterPid();
    if (pid === null) return false;
    process.kill(pid, 'SIGHUP');
    return true;
  }

  /**
   * Signals promotion (pg_ctl promote -W) and returns at once; the caller waits for the end of
   * recovery itself (pg_ctl's own wait polls only every 100 ms, which is failover time lost).
   */
  async requestPromote(timeoutMs: number): Promise<void> {
    await runProgramOrFail(this.bin('pg_ctl'), ['promote', '-D', this.paths.dataDir, '-W'], { timeoutMs }, 'pg_ctl promote');
  }

  /**
   * Clones a running member with pg_basebackup (WAL streamed) into a temporary sibling
   * directory, then renames it into place. Without `beforeReplace` the data directory must be
   * absent or empty; with it (a re-clone), an existing cluster is replaced, but only after the
   * copy is complete and `beforeReplace` (which stops PostgreSQL) has returned.
   */
  async cloneFrom(
    source: ReplicationSource,
    extraArgs: string[],
    timeoutMs: number,
    onProgress?: (line: string) => void,
    beforeReplace?: () => Promise<void>,
  ): Promise<void> {
    const state = await this.dataDirState();
    if ((state === 'initialized' && beforeReplace === undefined) || (await this.isForeignNonEmpty())) {
      throw new KeelError('postgres.data_dir_not_empty', `data directory ${this.paths.dataDir} is not empty; refusing to clone into it`);
    }
    const temporary = `${this.paths.dataDir}.keel-clone`;
    await rm(temporary, { recursive: true, force: true });
    await mkdir(dirname(this.paths.dataDir), { recursive: true });
    await mkdir(temporary, { mode: 0o700 });
    await giveToPostgres(temporary);
    const args = [
      '-D',
      temporary,
      '-X',
      'stream',
      '-c',
      'fast',
      '-h',
      source.host,
      '-p',
      String(source.port),
      '-U',
      source.username,
      '--no-password',
      ...extraArgs,
    ];
    if (onProgress !== undefined) args.push('--progress');
    const env: Record<string, string> = source.password === undefined ? {} : { PGPASSWORD: source.password };
    try {
      await runProgramOrFail(
        this.bin('pg_basebackup'),
        args,
        { timeoutMs, env, ...(onProgress === undefined ? {} : { onStderr: onProgress }) },
        'pg_basebackup',
      );
    } catch (error) {
      await rm(temporary, { recursive: true, force: true });
      throw error;
    }
    if (beforeReplace !== undefined) await beforeReplace();
    if (await this.isRunning()) throw new KeelError('postgres.running', `refusing to replace ${this.paths.dataDir}: PostgreSQL is running on it`);
    await rm(this.paths.dataDir, { recursive: true, force: true });
    await rename(temporary, this.paths.dataDir);
  }

  /** pg_rewind from a running source. The instance must be stopped cleanly first. */
  async rewind(sourceConninfo: string, password: string | undefined, timeoutMs: number): Promise<void> {
    const env: Record<string, string> = password === undefined ? {} : { PGPASSWORD: password };
    await runProgramOrFail(
      this.bin('pg_rewind'),
      [`--target-pgdata=${this.paths.dataDir}`, `--source-server=${sourceConninfo}`, '--progress'],
      { timeoutMs, env },
      'pg_rewind',
    );
  }

  /** Last lines of the server log joined on one line, for error messages. */
  async serverLogTail(lines: number): Promise<string> {
    return lastLines(await this.serverLogText(8192), lines);
  }

  /** See PostgresNode.serverLogSince: new complete lines of the server log since `offset`. */
  async serverLogSince(offset: number | null, maxBytes: number): Promise<{ text: string; end: number }> {
    let handle;
    try {
      const info = statSync(this.paths.logFile); // every cycle, usually to find nothing new: synchronous (see dataDirState)
      if (offset === null) return { text: '', end: info.size };
      const from = info.size < offset ? 0 : offset;
      const length = Math.min(info.size - from, maxBytes);
      if (length <= 0) return { text: '', end: from };
      handle = await open(this.paths.logFile, 'r');
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, from);
      const lastNewline = buffer.lastIndexOf(0x0a);
      // A line still being written is read next time; a single line longer than maxBytes is skipped.
      if (lastNewline < 0) return { text: '', end: length === maxBytes ? from + length : from };
      return { text: buffer.subarray(0, lastNewline + 1).toString('utf8'), end: from + lastNewline + 1 };
    } catch {
      return { text: '', end: offset ?? 0 };
    } finally {
      await handle?.close();
    }
  }

  /** The last `maxBytes` of the server log as text ('' when it cannot be read). */
  async serverLogText(maxBytes: number): Promise<string> {
    let handle;
    try {
      const info = await stat(this.paths.logFile);
      handle = await open(this.paths.logFile, 'r');
      const length = Math.min(info.size, maxBytes);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, info.size - length);
      return buffer.toString('utf8');
    } catch {
      return '';
    } finally {
      await handle?.close();
    }
  }
}
