/**
 * What a backup computes on every block it reads: the block's hash (its identity: a block whose
 * hash the prior backup has is not stored again), its CRC-32 (what restore checks it by) and, for a relation file while data checksums
 * are on, whether each full page fails its checksum. Runs on the encode workers (encode-pool.ts).
 */
import { blockCrc, blockHash } from './object-codec.js';
import { DEFAULT_BLOCK_BYTES } from './core/blocks.js';
import { pageChecksumFails } from './core/page-checksum.js';

export function examineChunk(
  chunk: Buffer,
  pageCheck: { firstBlock: number; startLsn: bigint } | null,
  firstPage: number,
): { hashes: string[]; crcs: number[] | null; failingPages: number[] } {
  const hashes: string[] = [];
  const crcs: number[] | null = blockCrc === null ? null : [];
  const failingPages: number[] = [];
  for (let at = 0, page = 0; at < chunk.length; at += DEFAULT_BLOCK_BYTES, page++) {
    const block = chunk.subarray(at, Math.min(chunk.length, at + DEFAULT_BLOCK_BYTES));
    hashes.push(blockHash(block));
    if (crcs !== null && blockCrc !== null) crcs.push(blockCrc(block));
    if (pageCheck !== null && pageChecksumFails(block, pageCheck.firstBlock + firstPage + page, pageCheck.startLsn)) failingPages.push(page);
  }
  return { hashes, crcs, failingPages };
}
