/**
 * verify: reads back every stored block of each backup (or one --set) and every archived WAL
 * file, checking each against its checksum, and checks that the WAL each backup needs to be
 * consistent is in the archive. Problems are reported by backup and file; nothing is changed.
 */
import { readdir, readFile } from 'node:fs/promises';
import { Repository, PackReader, type RepositoryOptions } from './repository.js';
import { blockHash, decodeObject } from './object-codec.js';
import { listArchive } from './archive.js';
import type { Manifest } from './core/manifest.js';

export interface VerifyProblem {
  backup: string | null;
  file: string;
  problem: string;
}

export async function runVerify(options: RepositoryOptions, set: string | null): Promise<{ checked: string[]; problems: VerifyProblem[] }> {
  const repository = await Repository.open(options);
  const labels = set === null ? await repository.backupLabels() : [set];
  const problems: VerifyProblem[] = [];
  const archived = new Set(await listArchive(repository));
  for (const label of labels) {
    let manifest: Manifest;
    try {
      manifest = await repository.readManifest(label);
    } catch (error) {
      problems.push({ backup: label, file: 'manifest', problem: (error as Error).message });
      continue;
    }
    problems.push(...(await verifyBlocks(repository, manifest)));
    for (const segment of segmentsBetween(manifest.walStart, manifest.walStop)) {
      if (!archived.has(segment))
        problems.push({ backup: label, file: `WAL ${segment}`, problem: 'missing from the archive (the backup cannot be made consistent)' });
    }
  }
  if (set === null) problems.push(...(await verifyArchive(repository)));
  return { checked: labels, problems };
}

async function verifyBlocks(repository: Repository, manifest: Manifest): Promise<VerifyProblem[]> {
  const reader = new PackReader();
  const problems: VerifyProblem[] = [];
  try {
    const frames = new Map<string, Buffer>();
    for (const file of manifest.files) {
      for (const [index, [hash, packIndex, frameOffset, frameStored, offsetInFrame, plainBytes]] of file.blocks.entries()) {
        const pack = manifest.packs[packIndex] ?? '';
        try {
          const key = `${pack}@${frameOffset}`;
          let frame = frames.get(key);
          if (frame === undefined) {
            frame = decodeObject(await reader.read(repository.path(pack), frameOffset, frameStored), repository.codec.key);
            if (frames.size > 64) frames.clear();
            frames.set(key, frame);
          }
          if (blockHash(frame.subarray(offsetInFrame, offsetInFrame + plainBytes)) !== hash) throw new Error('block checksum mismatch');
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

async function verifyArchive(repository: Repository): Promise<VerifyProblem[]> {
  const problems: VerifyProblem[] = [];
  for (const dir of await readdir(repository.path('archive')).catch(() => [] as string[])) {
    for (const entry of await readdir(repository.path('archive', dir)).catch(() => [] as string[])) {
      try {
        decodeObject(await readFile(repository.path('archive', dir, entry)), repository.codec.key);
      } catch (error) {
        problems.push({ backup: null, file: `WAL ${entry.slice(0, -65)}`, problem: (error as Error).message });
      }
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
