/**
 * Appends encoded blocks to the pack files of one backup (`pack/<label>/<n>.pack`), buffering
 * writes and starting a new pack past PACK_BYTES_MAX. `close()` fsyncs every pack and the pack
 * directory: a manifest may reference blocks only after it returned.
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { diskFullError, fsyncDir, writeAll } from './durable-file.js';

const PACK_BYTES_MAX = 128 * 1024 * 1024;
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

export interface StoredLocation {
  pack: string;
  offset: number;
  storedBytes: number;
}

export class PackWriter {
  private handle: FileHandle | null = null;
  private packName = '';
  private packNumber = 0;
  private packBytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes written to packs so far (what this backup adds to the repository). */
  storedBytes = 0;

  constructor(
    private readonly stanzaDir: string,
    private readonly label: string,
  ) {}

  async append(encoded: Buffer): Promise<StoredLocation> {
    if (this.handle === null || this.packBytes + encoded.length > PACK_BYTES_MAX) await this.nextPack();
    const location = { pack: this.packName, offset: this.packBytes, storedBytes: encoded.length };
    this.pending.push(encoded);
    this.pendingBytes += encoded.length;
    this.packBytes += encoded.length;
    this.storedBytes += encoded.length;
    if (this.pendingBytes >= WRITE_BUFFER_BYTES) await this.flush();
    return location;
  }

  private async flush(): Promise<void> {
    if (this.handle === null || this.pendingBytes === 0) return;
    await writeAll(this.handle, Buffer.concat(this.pending, this.pendingBytes), null, `${this.stanzaDir}/${this.packName}`);
    this.pending = [];
    this.pendingBytes = 0;
  }

  private async nextPack(): Promise<void> {
    await this.finishPack();
    this.packNumber++;
    this.packName = `pack/${this.label}/${String(this.packNumber).padStart(6, '0')}.pack`;
    this.handle = await open(`${this.stanzaDir}/${this.packName}`, 'wx', 0o640);
    this.packBytes = 0;
  }

  private async finishPack(): Promise<void> {
    if (this.handle === null) return;
    await this.flush();
    await this.handle.sync().catch((error: unknown) => {
      throw diskFullError(error, `${this.stanzaDir}/${this.packName}`);
    });
    await this.handle.close();
    this.handle = null;
  }

  /** Flushes and fsyncs everything written; the packs are durable when this returns. */
  async close(): Promise<void> {
    await this.finishPack();
    await fsyncDir(`${this.stanzaDir}/pack/${this.label}`);
  }

  /** Closes without fsync after a failure (the packs are garbage the next run removes). */
  async abandon(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    this.handle = null;
  }
}
