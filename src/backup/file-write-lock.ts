/**
 * Write locks the restore workers share, one per file (by a hash of its path into a fixed table;
 * two files in one slot only take turns). Two threads writing one file at once contend for its
 * inode lock in the kernel (ext4 takes it for every buffered write) and the loser spins: measured
 * here, two threads writing one 640 MiB file in turns of 4 MiB took 1.3-2.0 s against 1.2 s for
 * one thread, each burning CPU the whole time. The restore hands a large relation to one worker
 * while others restore the small files (restore-pool.ts), but once it is the only file left (a
 * pgbench database is 83% one file) both workers share it: with this lock, a worker that wants
 * to write while the other writes sleeps in Atomics.wait instead of spinning, and the two
 * alternate, one decoding while the other writes.
 */

const SLOTS = 256;
/** An Atomics.wait is bounded, so a lost wake-up costs this at most (the lock is retried). */
const WAIT_MS_MAX = 50;

export class FileWriteLocks {
  private readonly slots: Int32Array;

  /** `shared` from FileWriteLocks.table(), the same one for every worker. */
  constructor(shared: SharedArrayBuffer) {
    this.slots = new Int32Array(shared);
  }

  /** A fresh table, to hand to every worker. */
  static table(): SharedArrayBuffer {
    return new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
  }

  /** Runs `write` (synchronous: nothing may wait while the lock is held) holding the lock of `path`. */
  hold<T>(path: string, write: () => T): T {
    const slot = slotOf(path);
    while (Atomics.compareExchange(this.slots, slot, 0, 1) !== 0) Atomics.wait(this.slots, slot, 1, WAIT_MS_MAX);
    try {
      return write();
    } finally {
      Atomics.store(this.slots, slot, 0);
      Atomics.notify(this.slots, slot, 1);
    }
  }
}

/** FNV-1a of the path's UTF-16 code units, into the table. */
function slotOf(path: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) hash = Math.imul(hash ^ path.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % SLOTS;
}
