/**
 * verify: reads back every stored block of each backup (or one --set) and every archived WAL
 * file, checking each against its checksum, checks that the WAL each backup needs to be
 * consistent is in the archive, and that the archive has no gap where it must be continuous.
 * Problems are reported by backup and file; nothing is changed.
 */
import { readFile } from 'node:fs/promises';
import { Repository, PackReader, archiveIdOf, type RepositoryOptions, type StanzaDb } from './repository.js';
import { blockCrc, blockHash, decodeObject } from './object-codec.js';
import { listArchive, listArchiveObjects } from './archive.js';
import { archiveContinuityStart } from './info.js';
import { archiveGaps } from './core/archive-gaps.js';
import { isDeltaRef, summarize, type Manifest, type ManifestSummary } from './core/manifest.js';
import { xorBytes } from './core/block-delta.js';

export interface VerifyProblem {
  backup: string | null;
  file: string;
  problem: string;
}

export async function runVerify(options: RepositoryOptions, set: string | null): Promise<{ checked: string[]; problems: VerifyProblem[] }> {
  const repository = await Repository.open(options);
  const labels = set === null ? await repository.backupLabels() : [set];
  const problems: VerifyProblem[] = [];
  const archivedByDb = new Map<number, Set<string>>();
  for (const db of repository.info.db) archivedByDb.set(db.id, new Set(await listArchive(repository, db)));
  for (const label of labels) {
    let manifest: Manifest;
    try {
      manifest = await repository.readManifest(label);
    } catch (error) {
      problems.push({ backup: label, file: 'manifest', problem: (error as Error).message });
      continue;
    }
    problems.push(...(await verifyBlocks(repository, manifest)));
    // info, expire and restore's choice read the summary: it must say what the manifest says
    try {
      const summary = await repository.readSummary(label);
      if (JSON.stringify(summary) !== JSON.stringify(summarize(manifest)))
        problems.push({ backup: label, file: 'summary', problem: 'differs from the manifest (info, expire and restore would act on wrong facts)' });
    } catch (error) {
      problems.push({ backup: label, file: 'summary', problem: (error as Error).message });
    }
    const archived = archivedByDb.get(manifest.dbId) ?? new Set<string>();
    for (const segment of segmentsBetween(manifest.walStart, manifest.walStop)) {
      if (!archived.has(segment))
        problems.push({ backup: label, file: `WAL ${segment}`, problem: 'missing from the archive (the backup cannot be made consistent)' });
    }
  }
  if (set === null) {
    const manifests = await repository.readSummaries().catch(() => [] as ManifestSummary[]);
    for (const db of repository.info.db) {
      problems.push(...(await verifyArchive(repository, db)));
      for (const gap of archiveGaps([...(archivedByDb.get(db.id) ?? [])], await archiveContinuityStart(repository, db, manifests))) {
        problems.push({
          backup: null,
          file: `WAL ${gap.start} to ${gap.stop}`,
          problem: `missing from the archive ${archiveIdOf(db)} (a gap of ${gap.count} segment${gap.count === 1 ? '' : 's'}: recovery cannot replay past it)`,
        });
      }
    }
  }
  return { checked: labels, problems };
}

async function verifyBlocks(repository: Repository, manifest: Manifest): Promise<VerifyProblem[]> {
  const reader = new PackReader();
  const problems: VerifyProblem[] = [];
  const frames = new Map<string, Buffer>();
  const frameAt = async (pack: string, frameOffset: number, frameStored: number): Promise<Buffer> => {
    const key = `${pack}@${frameOffset}`;
    let frame = frames.get(key);
    if (frame === undefined) {
      frame = decodeObject(await reader.read(repository.path(pack), frameOffset, frameStored), repository.codec.key);
      if (frames.size > 64) frames.clear();
      frames.set(key, frame);
    }
    return frame;
  };
  try {
    for (const file of manifest.files) {
      for (const [index, ref] of file.blocks.entries()) {
        const [hash, packIndex, frameOffset, frameStored, offsetInFrame, plainBytes] = ref;
        const pack = manifest.packs[packIndex] ?? '';
        try {
          let block = (await frameAt(pack, frameOffset, frameStored)).subarray(offsetInFrame, offsetInFrame + plainBytes);
          if (isDeltaRef(ref)) {
            // a delta: the page is rebuilt over its base, and the rebuilt page must have the block's hash
            const base = (await frameAt(manifest.packs[ref[6]] ?? '', ref[7], ref[8])).subarray(ref[9], ref[9] + plainBytes);
            if (base.length !== plainBytes || block.length !== plainBytes) throw new Error('delta or base lies outside its frame');
            const page = Buffer.allocUnsafe(plainBytes);
            xorBytes(block, base, page);
            block = page;
          }
          if (blockHash(block) !== hash)
            throw new Error(
              isDeltaRef(ref) ? `block checksum mismatch (a delta over ${manifest.packs[ref[6]] ?? ''} at ${ref[7]})` : 'block checksum mismatch',
            );
          // what restore checks the block by: a wrong one would make restore refuse a good block
          const crc = file.crc32?.[index];
          if (crc !== undefined && blockCrc !== null && blockCrc(block) !== crc) throw new Error('block CRC-32 differs from the one recorded in the manifest');
        } catch (error) {
          problems.push({ backup: manifest.label, file: file.path, problem: `block ${index} (${pack} at ${frameOffset}): ${(error as Error).message}` });
          break; // one line per file is enough to act on
        }
      }
    }
  } finally {
    await reader.close();
  }
  return problems;
}

async function verifyArchive(repository: Repository, db: StanzaDb): Promise<VerifyProblem[]> {
  const problems: VerifyProblem[] = [];
  for (const object of await listArchiveObjects(repository, db)) {
    try {
      decodeObject(await readFile(object.path), repository.codec.key);
    } catch (error) {
      problems.push({ backup: null, file: `WAL ${object.name}`, problem: (error as Error).message });
    }
  }
  return problems;
}

/** Segment names from `first` to `last` on the timeline of `first` (16 MiB segments). */
export function segmentsBetween(first: string, last: string): string[] {
  const timeline = first.slice(0, 8);
  const position = (name: string) => BigInt(`0x${name.slice(8, 16)}`) * 256n + BigInt(`0x${name.slice(16, 24)}`);
  const names: string[] = [];
  for (let at = position(first); at <= position(last) && names.length < 100_000; at++) {
    names.push(`${timeline}${(at / 256n).toString(16).toUpperCase().padStart(8, '0')}${(at % 256n).toString(16).toUpperCase().padStart(8, '0')}`);
  }
  return names;
}
