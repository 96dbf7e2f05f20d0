/**
 * expire: removes the backups retention no longer wants (core/retention.ts decides), then the
 * packs no kept manifest references, then the WAL archive retention no longer wants (pgBackRest's
 * rule, core/retention.ts): continuous WAL from the start of the oldest backup
 * repo1-retention-archive retains, and for older kept backups only the segments from their start
 * to their stop (never WAL a kept backup needs); nothing when no archive retention is set.
 * Manifests go first: from that instant the backup is gone, and a crash leaves only garbage the
 * next run collects. Where continuous WAL now begins is written to `archive/<id>/expire.json`,
 * so info and verify tell a gap left on purpose from one that breaks recovery.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { Repository, archiveIdOf, type RepositoryOptions, type StanzaDb } from './repository.js';
import { writeFileDurably } from './durable-file.js';
import { planExpire, planArchiveRetention, type ArchiveKeep, type ArchivePolicy, type RetentionPolicy } from './core/retention.js';
import { segmentPosition } from './core/wal.js';
import type { BackupLog } from './log.js';

export interface ExpireResult {
  expired: string[];
  freedBytes: number;
  walRemoved: number;
}

export type ExpirePolicy = RetentionPolicy & ArchivePolicy;

export async function runExpire(options: RepositoryOptions, policy: ExpirePolicy, log: BackupLog): Promise<ExpireResult> {
  const repository = await Repository.open(options);
  const unlock = await repository.lock('expire');
  try {
    const manifests = await repository.readSummaries();
    const plan = planExpire(manifests, policy);
    for (const { label, why } of plan.expire) {
      await repository.removeBackup(label);
      log.info(`expire backup set ${label} (${why})`);
    }
    const { freedBytes } = await repository.collectGarbage();
    const kept = manifests.filter((m) => plan.keep.includes(m.label));
    const archivePlan = planArchiveRetention(
      kept,
      repository.info.db.map((db) => db.id),
      repository.currentDb.id,
      policy,
    );
    if (archivePlan.notice !== null) log.info(archivePlan.notice);
    let walRemoved = 0;
    for (const keep of archivePlan.keeps) {
      const db = repository.dbById(keep.dbId);
      if (db === undefined || keep.keepAll) continue;
      const removed = await removeWal(repository, db, keep);
      walRemoved += removed;
      if (removed > 0) {
        const kept = keep.from === null ? 'no WAL (no backup of this database is kept)' : `continuous WAL from ${keep.from}`;
        log.info(`archive retention on ${archiveIdOf(db)}: removed ${removed} WAL files, kept ${kept}`);
      }
    }
    return { expired: plan.expire.map((e) => e.label), freedBytes, walRemoved };
  } finally {
    await unlock();
  }
}

/** Where, in `db`'s archive, WAL must be continuous (expire.json), or undefined when expire never said. */
export async function continuousFrom(repository: Repository, db: StanzaDb): Promise<string | null | undefined> {
  const text = await readFile(repository.archivePath(db, 'expire.json'), 'utf8').catch(() => null);
  if (text === null) return undefined;
  const value = (JSON.parse(text) as { continuousFrom?: unknown }).continuousFrom;
  return typeof value === 'string' ? value : null;
}

/** Removes the WAL of `db` that `keep` does not keep; history files stay while the database has backups. */
async function removeWal(repository: Repository, db: StanzaDb, keep: ArchiveKeep): Promise<number> {
  const from = keep.from === null ? null : segmentPosition(keep.from);
  const ranges = keep.ranges.map((r) => ({ start: segmentPosition(r.start), stop: segmentPosition(r.stop) }));
  const noBackups = keep.from === null && keep.ranges.length === 0;
  await writeFileDurably(repository.archivePath(db, 'expire.json'), JSON.stringify({ continuousFrom: keep.from }) + '\n');
  let removed = 0;
  for (const dir of await readdir(repository.archivePath(db)).catch(() => [] as string[])) {
    if (dir === 'expire.json' || (dir === 'history' && !noBackups)) continue;
    for (const entry of await readdir(repository.archivePath(db, dir)).catch(() => [] as string[])) {
      if (!noBackups) {
        const position = segmentPosition(entry.slice(0, 24));
        if ((from !== null && position >= from) || ranges.some((r) => position >= r.start && position <= r.stop)) continue;
      }
      await rm(repository.archivePath(db, dir, entry), { force: true });
      removed++;
    }
  }
  return removed;
}
