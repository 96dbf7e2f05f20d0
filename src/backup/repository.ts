/**
 * A keel backup repository on a posix filesystem (docs/repository-format.md is the reference):
 *
 *   <repo1-path>/<stanza>/stanza.json            database history (one entry per stanza-upgrade), cipher salt and key check
 *   <repo1-path>/<stanza>/backup/<label>/manifest a committed backup (the only thing that makes one)
 *   <repo1-path>/<stanza>/backup/<label>.partial/ a backup in progress (never listed)
 *   <repo1-path>/<stanza>/pack/<label>/<n>.pack   blocks first stored by backup <label>
 *   <repo1-path>/<stanza>/archive/<version>-<db id>/<16 chars>/<wal>-<sha256>  archived WAL, per database
 *   <repo1-path>/<stanza>/lock                    link to `<pid> <command>` of the backup/expire holding the stanza
 *
 * Invariants: metadata is written durably (durable-file.ts); packs are fsynced before the
 * manifest that references them is committed; a pack is deleted only when no committed manifest
 * references it (so removing a backup never breaks a kept one), and only under the lock.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, readlink, rm, mkdir, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { writeFileDurably, mkdirDurably } from './durable-file.js';
import {
  decodeObject,
  deriveKey,
  deriveKeyInBackground,
  encodeObject,
  CorruptObjectError,
  type CodecSettings,
  type CipherType,
  type CompressType,
} from './object-codec.js';
import {
  validateManifest,
  validateSummary,
  summarize,
  referencedPacks,
  storedManifest,
  MANIFEST_FORMAT,
  type Manifest,
  type ManifestSummary,
} from './core/manifest.js';
import { compareLabels, isLabel } from './core/label.js';

export const REPOSITORY_FORMAT = 2;
const KEY_CHECK_TEXT = 'keel repository key check';

/** The identity of a PostgreSQL cluster as the repository records it (pg_control_system()). */
export interface ClusterId {
  systemId: string;
  /** Major version, `15`. */
  pgVersion: string;
  catalogVersion: number;
  controlVersion: number;
}

/**
 * One database the stanza has held (pgBackRest's db history): stanza-create records the first,
 * each stanza-upgrade (after pg_upgrade: a new system identifier, catalog or version) adds one
 * with the next id. Backups and WAL belong to one; its WAL lives under its archive id.
 */
export interface StanzaDb extends ClusterId {
  id: number;
}

export interface StanzaInfo {
  format: number;
  stanza: string;
  /** Oldest first; the last entry is the current database. */
  db: StanzaDb[];
  cipherType: CipherType;
  /** base64 scrypt salt for the repository key. */
  cipherSalt: string | null;
  /** base64 of an encoded object holding KEY_CHECK_TEXT: proves the passphrase before anything is written. */
  keyCheck: string | null;
  created: string;
}

export interface RepositoryOptions {
  repoPath: string;
  stanza: string;
  cipherType: CipherType;
  cipherPass: string | null;
  compressType: CompressType;
  compressLevel: number | null;
}

export class Repository {
  private constructor(
    readonly root: string,
    readonly info: StanzaInfo,
    readonly codec: CodecSettings,
  ) {}

  static stanzaDir(options: Pick<RepositoryOptions, 'repoPath' | 'stanza'>): string {
    return join(options.repoPath, options.stanza);
  }

  /** Creates the stanza (stanza-create). Idempotent for the same cluster; refuses another one. */
  static async create(options: RepositoryOptions, cluster: ClusterId): Promise<{ repository: Repository; created: boolean }> {
    const root = Repository.stanzaDir(options);
    const existing = await readStanzaInfo(root);
    if (existing !== null) {
      const repository = await Repository.open(options);
      checkSameCluster(existing, cluster, options.stanza);
      return { repository, created: false };
    }
    if (options.cipherType !== 'none' && options.cipherPass === null) {
      throw new KeelError('backup.cipher_pass_missing', `repo1-cipher-type is ${options.cipherType} but repo1-cipher-pass is not set`);
    }
    const salt = options.cipherType === 'none' ? null : randomBytes(16);
    const key = salt === null ? null : deriveKey(options.cipherPass ?? '', salt);
    const codec: CodecSettings = { compressType: options.compressType, compressLevel: options.compressLevel, key };
    const info: StanzaInfo = {
      format: REPOSITORY_FORMAT,
      stanza: options.stanza,
      db: [dbEntry(1, cluster)],
      cipherType: options.cipherType,
      cipherSalt: salt === null ? null : salt.toString('base64'),
      keyCheck: key === null ? null : encodeObject(Buffer.from(KEY_CHECK_TEXT), codec, true).toString('base64'),
      created: new Date().toISOString(),
    };
    for (const sub of ['backup', 'pack', `archive/${archiveIdOf(info.db[0] as StanzaDb)}`]) await mkdir(join(root, sub), { recursive: true, mode: 0o750 });
    await writeFileDurably(join(root, 'stanza.json'), JSON.stringify(info, null, 2) + '\n');
    return { repository: new Repository(root, info, codec), created: true };
  }

  /** Opens an existing stanza and proves the passphrase (one-line error, nothing written, when wrong). */
  static async open(options: RepositoryOptions): Promise<Repository> {
    const root = Repository.stanzaDir(options);
    const info = await readStanzaInfo(root);
    if (info === null) {
      throw new KeelError('backup.no_stanza', `stanza '${options.stanza}' does not exist in repository ${options.repoPath}`, {
        hint: `run: keel backup stanza-create --stanza=${options.stanza}`,
      });
    }
    if (info.cipherType !== options.cipherType) {
      throw new KeelError(
        'backup.cipher_mismatch',
        `repository of stanza '${options.stanza}' is ${info.cipherType === 'none' ? 'not encrypted' : `encrypted with ${info.cipherType}`} but repo1-cipher-type is ${options.cipherType}`,
      );
    }
    let key: Buffer | null = null;
    if (info.cipherType !== 'none') {
      if (options.cipherPass === null)
        throw new KeelError('backup.cipher_pass_missing', `repository of stanza '${options.stanza}' is encrypted and repo1-cipher-pass is not set`);
      key = await deriveKeyInBackground(options.cipherPass, Buffer.from(info.cipherSalt ?? '', 'base64'));
      let check: string;
      try {
        check = decodeObject(Buffer.from(info.keyCheck ?? '', 'base64'), key).toString();
      } catch {
        check = '';
      }
      if (check !== KEY_CHECK_TEXT) {
        throw new KeelError('backup.wrong_cipher_pass', `repo1-cipher-pass is wrong: it does not decrypt the repository of stanza '${options.stanza}'`);
      }
    }
    return new Repository(root, info, { compressType: options.compressType, compressLevel: options.compressLevel, key });
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  /** Refuses a cluster other than the stanza's current database (another cluster, or one upgraded without stanza-upgrade). */
  checkCluster(cluster: ClusterId): void {
    checkSameCluster(this.info, cluster, this.info.stanza);
  }

  /** The stanza's current database (the last of its history). */
  get currentDb(): StanzaDb {
    const current = this.info.db[this.info.db.length - 1];
    if (current === undefined) throw new KeelError('backup.repo_format', `stanza '${this.info.stanza}' has an empty database history`);
    return current;
  }

  dbById(id: number): StanzaDb | undefined {
    return this.info.db.find((db) => db.id === id);
  }

  /** The newest history entry for a cluster (system identifier and version), as archive-get finds WAL for a restored cluster. */
  dbFor(cluster: Pick<ClusterId, 'systemId'> & { pgVersion?: string }): StanzaDb | undefined {
    return [...this.info.db]
      .reverse()
      .find((db) => db.systemId === cluster.systemId && (cluster.pgVersion === undefined || db.pgVersion === cluster.pgVersion));
  }

  /** `archive/<version>-<id>/...`: where one database's WAL is archived (pgBackRest's archive id). */
  archivePath(db: StanzaDb, ...parts: string[]): string {
    return this.path('archive', archiveIdOf(db), ...parts);
  }

  /**
   * stanza-upgrade: records `cluster` as the new current database (id + 1) when it differs from
   * the current one. Old backups and their WAL stay, under their own database. Caller holds the lock.
   */
  async upgrade(cluster: ClusterId): Promise<StanzaDb | null> {
    if (sameDb(this.currentDb, cluster)) return null;
    const next = dbEntry(this.currentDb.id + 1, cluster);
    const info: StanzaInfo = { ...this.info, db: [...this.info.db, next] };
    await mkdir(this.archivePath(next), { recursive: true, mode: 0o750 });
    await writeFileDurably(this.path('stanza.json'), JSON.stringify(info, null, 2) + '\n');
    this.info.db.push(next);
    return next;
  }

  /** Labels of committed backups (a manifest exists), oldest first. */
  async backupLabels(): Promise<string[]> {
    const entries = await readdir(this.path('backup')).catch(() => [] as string[]);
    const labels: string[] = [];
    for (const entry of entries) {
      if (!isLabel(entry)) continue;
      if (await exists(this.path('backup', entry, 'manifest'))) labels.push(entry);
    }
    return labels.sort(compareLabels);
  }

  async readManifest(label: string): Promise<Manifest> {
    const stored = await readFile(this.path('backup', label, 'manifest'));
    let plain: Buffer;
    try {
      plain = decodeObject(stored, this.codec.key);
    } catch (error) {
      throw new KeelError('backup.manifest_corrupt', `manifest of backup ${label} is unreadable: ${(error as Error).message}`);
    }
    try {
      return validateManifest(JSON.parse(plain.toString('utf8')));
    } catch (error) {
      throw new KeelError('backup.manifest_corrupt', `manifest of backup ${label} is invalid: ${(error as Error).message}`);
    }
  }

  /**
   * A committed backup's summary (its manifest without the file list); for a backup committed
   * before summaries were written, made from its manifest.
   */
  async readSummary(label: string): Promise<ManifestSummary> {
    let stored: Buffer;
    try {
      stored = await readFile(this.path('backup', label, 'summary'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return summarize(await this.readManifest(label));
      throw error;
    }
    try {
      return validateSummary(JSON.parse(decodeObject(stored, this.codec.key).toString('utf8')));
    } catch (error) {
      throw new KeelError('backup.manifest_corrupt', `summary of backup ${label} is unreadable: ${(error as Error).message}`);
    }
  }

  /** The summaries of every committed backup, oldest first. */
  async readSummaries(): Promise<ManifestSummary[]> {
    const summaries: ManifestSummary[] = [];
    for (const label of await this.backupLabels()) summaries.push(await this.readSummary(label));
    return summaries;
  }

  /** Marks a backup as in progress (so cleanup knows its packs are not yet referenced by a manifest). */
  async beginBackup(label: string): Promise<void> {
    await mkdirDurably(this.path('backup', `${label}.partial`));
    await mkdir(this.path('pack', label), { recursive: true, mode: 0o750 });
  }

  /** Commits a backup: its manifest is written durably; from that instant the backup exists. */
  async commitBackup(committed: Manifest): Promise<void> {
    // written in the current format whatever it was read as (a manifest read from an older one and committed again)
    const manifest = { ...committed, format: MANIFEST_FORMAT };
    // the summary first: a backup exists once its manifest is there, and then its summary is too
    // at the fastest level whatever compress-level says (that is for the data): a manifest is
    // mostly block hashes, which no level compresses; at scale 50 its 8.5 MB took 109 ms at
    // level 3 and 39 ms at level 1, for 4.14 and 4.00 MB
    const metadata: CodecSettings = { ...this.codec, compressLevel: 1 };
    const summary = encodeObject(Buffer.from(JSON.stringify(summarize(manifest))), metadata, true);
    await writeFileDurably(this.path('backup', manifest.label, 'summary'), summary);
    const encoded = encodeObject(Buffer.from(JSON.stringify(storedManifest(manifest))), metadata, true);
    await writeFileDurably(this.path('backup', manifest.label, 'manifest'), encoded);
    await rm(this.path('backup', `${manifest.label}.partial`), { recursive: true, force: true });
  }

  /**
   * Removes what a failed backup wrote (its packs, then its in-progress marker) at once rather
   * than at the next run: on a full filesystem its packs would otherwise keep WAL from being
   * archived until then. Does nothing once the backup is committed. Caller holds the lock.
   */
  async discardBackup(label: string): Promise<void> {
    if (await exists(this.path('backup', label, 'manifest'))) return;
    await rm(this.path('pack', label), { recursive: true, force: true });
    await rm(this.path('backup', label), { recursive: true, force: true }); // its summary, if written before the failure
    await rm(this.path('backup', `${label}.partial`), { recursive: true, force: true });
  }

  /** Removes a committed backup's manifest (its packs go at the next garbage collection). */
  async removeBackup(label: string): Promise<void> {
    await rm(this.path('backup', label), { recursive: true, force: true });
  }

  /**
   * Removes what no committed backup references: partial-backup markers and pack files of
   * interrupted backups, and packs left by expired ones. Caller holds the lock.
   * Returns the number of bytes freed.
   */
  async collectGarbage(): Promise<{ removedPartials: string[]; freedBytes: number }> {
    const removedPartials: string[] = [];
    for (const entry of await readdir(this.path('backup')).catch(() => [] as string[])) {
      if (entry.endsWith('.partial')) {
        const label = entry.slice(0, -'.partial'.length);
        // killed between its summary and its manifest: the summary alone is not a backup
        if (!(await exists(this.path('backup', label, 'manifest')))) await rm(this.path('backup', label), { recursive: true, force: true });
        await rm(this.path('backup', entry), { recursive: true, force: true });
        removedPartials.push(label);
      }
    }
    const kept = referencedPacks(await this.readSummaries());
    let freedBytes = 0;
    for (const label of await readdir(this.path('pack')).catch(() => [] as string[])) {
      const packs = await readdir(this.path('pack', label)).catch(() => [] as string[]);
      let left = 0;
      for (const pack of packs) {
        const relative = `pack/${label}/${pack}`;
        if (kept.has(relative)) {
          left++;
          continue;
        }
        freedBytes += (await stat(this.path(relative)).catch(() => ({ size: 0 }))).size;
        await rm(this.path(relative), { force: true });
      }
      if (left === 0) await rm(this.path('pack', label), { recursive: true, force: true });
    }
    return { removedPartials, freedBytes };
  }

  /**
   * Takes the stanza's lock (backup, expire): a symbolic link whose text is `<pid> <command>`,
   * created exclusively. A link, not a file: its short text lives in the inode and needs no data
   * block, so a completely full filesystem can still be locked, and expire can free space.
   * A lock whose process is gone (killed backup) is taken over.
   */
  async lock(command: string): Promise<() => Promise<void>> {
    const lockPath = this.path('lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await symlink(`${process.pid} ${command}`, lockPath);
        return async () => {
          await rm(lockPath, { force: true });
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const { pid, holder } = await readLock(lockPath);
        if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
          throw new KeelError('backup.locked', `stanza '${this.info.stanza}' is locked by ${holder} (pid ${pid})`);
        }
        await rm(lockPath, { force: true });
      }
    }
    throw new KeelError('backup.locked', `cannot take the lock of stanza '${this.info.stanza}'`);
  }

  /** Reads one stored block from a pack and checks it. */
  async readBlock(handle: PackReader, pack: string, offset: number, storedBytes: number, hash: string): Promise<Buffer> {
    const stored = await handle.read(this.path(pack), offset, storedBytes);
    return decodeObject(stored, this.codec.key, hash);
  }
}

/** Keeps pack files open while a restore or verify reads many blocks from them. */
export class PackReader {
  private readonly handles = new Map<string, Awaited<ReturnType<typeof open>>>();

  async read(path: string, offset: number, length: number): Promise<Buffer> {
    let handle = this.handles.get(path);
    if (handle === undefined) {
      if (this.handles.size >= 64) await this.close();
      handle = await open(path, 'r');
      this.handles.set(path, handle);
    }
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    if (bytesRead !== length) throw new CorruptObjectError(`${path} is truncated`);
    return buffer;
  }

  async close(): Promise<void> {
    for (const handle of this.handles.values()) await handle.close();
    this.handles.clear();
  }
}

/** pgBackRest's archive id: `15-1` (major version, database id). */
export function archiveIdOf(db: Pick<StanzaDb, 'pgVersion' | 'id'>): string {
  return `${db.pgVersion}-${db.id}`;
}

function dbEntry(id: number, cluster: ClusterId): StanzaDb {
  return { id, systemId: cluster.systemId, pgVersion: cluster.pgVersion, catalogVersion: cluster.catalogVersion, controlVersion: cluster.controlVersion };
}

function sameDb(db: ClusterId, cluster: ClusterId): boolean {
  return db.systemId === cluster.systemId && db.pgVersion === cluster.pgVersion && db.catalogVersion === cluster.catalogVersion;
}

/** pgBackRest's words (error 044/051), with the way out: stanza-upgrade after pg_upgrade, else the wrong stanza. */
export function clusterMismatchError(stanza: string, db: ClusterId, cluster: ClusterId): KeelError {
  const catalog = db.catalogVersion === cluster.catalogVersion ? '' : ` (catalog ${cluster.catalogVersion}, stanza ${db.catalogVersion})`;
  return new KeelError(
    'backup.cluster_mismatch',
    `PostgreSQL version ${cluster.pgVersion}, system-id ${cluster.systemId}${catalog} do not match stanza '${stanza}' version ${db.pgVersion}, system-id ${db.systemId}: after a PostgreSQL upgrade run stanza-upgrade, otherwise this is not the stanza of this cluster`,
    { hint: `keel backup stanza-upgrade --stanza=${stanza} (after pg_upgrade), or use another stanza or repo1-path for this cluster` },
  );
}

function checkSameCluster(info: StanzaInfo, cluster: ClusterId, stanza: string): void {
  const current = info.db[info.db.length - 1];
  if (current !== undefined && !sameDb(current, cluster)) throw clusterMismatchError(stanza, current, cluster);
}

async function readStanzaInfo(root: string): Promise<StanzaInfo | null> {
  let text: string;
  try {
    text = await readFile(join(root, 'stanza.json'), 'utf8');
  } catch {
    return null;
  }
  const info = JSON.parse(text) as StanzaInfo;
  if (info.format !== REPOSITORY_FORMAT)
    throw new KeelError(
      'backup.repo_format',
      `${join(root, 'stanza.json')}: repository format ${String(info.format)} is not supported (keel reads ${REPOSITORY_FORMAT})`,
    );
  return info;
}

/** The holder of a lock: a link's text `<pid> <command>`, or a file's lines (the lock of a keel before links). */
async function readLock(lockPath: string): Promise<{ pid: number; holder: string }> {
  const text = await readlink(lockPath).catch(async (error: NodeJS.ErrnoException) =>
    error.code === 'EINVAL' ? (await readFile(lockPath, 'utf8').catch(() => '')).replace('\n', ' ') : '',
  );
  const [pidText = '', ...holder] = text.trim().split(/\s+/);
  return { pid: Number(pidText), holder: holder.join(' ') || 'another command' };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The process exists (a signal 0 reaches it, or it belongs to another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
