/**
 * Block-level incremental: a file is cut into fixed blocks (8 KiB, PostgreSQL's page), each
 * named by the hash of its bytes. A block whose hash the prior backup (or this one) already
 * stored is referenced, not stored again, so an incremental stores only changed pages. Pure.
 */

export const DEFAULT_BLOCK_BYTES = 8192;

/** Offsets and lengths of the blocks of a file of `size` bytes. */
export function blockSpans(size: number, blockBytes: number): { offset: number; length: number }[] {
  const spans: { offset: number; length: number }[] = [];
  for (let offset = 0; offset < size; offset += blockBytes) spans.push({ offset, length: Math.min(blockBytes, size - offset) });
  return spans;
}

/** Which of a file's block hashes must be stored (not yet known), in order and without repeats. */
export function blocksToStore(hashes: readonly string[], known: ReadonlySet<string> | ReadonlyMap<string, unknown>): string[] {
  const seen = new Set<string>();
  const result: string[] = [];
  for (const hash of hashes) {
    if (known.has(hash) || seen.has(hash)) continue;
    seen.add(hash);
    result.push(hash);
  }
  return result;
}
