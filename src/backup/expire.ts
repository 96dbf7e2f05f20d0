/**
 * expire: removes the backups retention no longer wants (core/retention.ts decides), then the
 * packs no kept manifest references, then WAL older than the oldest kept backup needs. Manifests
 * go first: from that instant the backup is gone, and a crash leaves only garbage the next
 * run collects.
 */
import { readdir, rm } from 'node:fs/promises';
import { Repository, type RepositoryOptions } from './repository.js';
import { planExpire, type RetentionPolicy } from './core/retention.js';
import { isSegmentName } from './core/wal.js';
import type { BackupLog } from './log.js';

export interface ExpireResult {
  expired: string[];
  freedBytes: number;
  walRemoved: number;
}

export async function runExpire(options: RepositoryOptions, policy: RetentionPolicy, log: BackupLog): Promise<ExpireResult> {
  const repository = await Repository.open(options);
  const unlock = await repository.lock('expire');
  try {
    const manifests = await repository.readManifests();
    const plan = planExpire(manifests, policy);
    for (const { label, why } of plan.expire) {
      await repository.removeBackup(label);
      log.info(`expire backup set ${label} (${why})`);
    }
    const { freedBytes } = await repository.collectGarbage();
    const kept = manifests.filter((m) => plan.keep.includes(m.label));
    const oldest = kept[0];
    let walRemoved = 0;
    if (oldest !== undefined) walRemoved = await removeWalBefore(repository, oldest.walStart);
    if (walRemoved > 0) log.info(`removed ${walRemoved} archived WAL segments older than ${oldest?.walStart ?? ''}`);
    return { expired: plan.expire.map((e) => e.label), freedBytes, walRemoved };
  } finally {
    await unlock();
  }
}

/** Removes WAL segments before `walStart`'s position (any timeline); history files are always kept. */
async function removeWalBefore(repository: Repository, walStart: string): Promise<number> {
  const position = walStart.slice(8);
  let removed = 0;
  for (const dir of await readdir(repository.path('archive')).catch(() => [] as string[])) {
    if (dir === 'history') continue;
    for (const entry of await readdir(repository.path('archive', dir)).catch(() => [] as string[])) {
      const name = entry.slice(0, 24);
      if (isSegmentName(name) && name.slice(8) < position) {
        await rm(repository.path('archive', dir, entry), { force: true });
        removed++;
      }
    }
  }
  return removed;
}
