/**
 * A copy of the cluster prefix kept current by the agent's watch, so that an idle HA cycle reads
 * its view without a range request (issue: idle cost; Patroni's etcd3 KVCache serves its reads
 * the same way).
 *
 * What makes a cached view safe to serve:
 *  - The watch delivers a key range's events in revision order, so the copy is always the
 *    prefix's exact state at one revision (`completeThrough`): stale at worst, never a mix of
 *    states. Every write keel makes to etcd is a compare-and-swap or carries our lease, so a
 *    stale view can delay an action but never make a wrong one succeed.
 *  - Stale is bounded by a proof: a lease keepalive etcd confirmed (it needs a connected leader)
 *    reports the revision the answering member had reached. When the copy is complete through at
 *    least that revision, it holds every change made before that keepalive. The caller says how
 *    old a keepalive may be; without a young enough one, or when etcd has moved past the copy (a
 *    write under another prefix, a watch that lags or stalls), the caller reads the prefix again.
 *  - Anything that may have broken the event sequence (a watch restarted after compaction, a
 *    stream that broke before it caught up) empties the copy until the next full read.
 *
 * Pure bookkeeping: no I/O, no clock; EtcdDcs feeds it and asks it.
 */
import type { KeyValue, WatchEventKv } from '../engine/etcd/etcd-wire.js';

export interface CachedPrefix {
  kvs: KeyValue[];
  /** The copy holds the prefix's exact state at this revision. */
  revision: number;
}

export class PrefixCache {
  private kvs: Map<string, KeyValue> | null = null;
  /** Every event of the prefix up to this revision is in `kvs` (meaningful only while kvs is set). */
  private completeThrough = 0;
  /** The feeding watch stream delivers every event after this revision; null while none runs. */
  private streamFrom: number | null = null;
  /** The newest event the current stream delivered while there was no copy to apply it to. */
  private droppedThrough = 0;

  /** Whether a watch keeps the copy current (false: reads must go to etcd). */
  get live(): boolean {
    return this.kvs !== null && this.streamFrom !== null;
  }

  get revision(): number {
    return this.kvs === null ? 0 : this.completeThrough;
  }

  /**
   * A full read of the prefix at `revision`. It replaces the copy unless the copy is already
   * complete through a later revision (the watch may be ahead of a read that was in flight). A
   * read older than the running stream's start leaves a gap: no copy then.
   */
  seed(kvs: KeyValue[], revision: number): void {
    if (this.kvs !== null && this.completeThrough > revision) return;
    // Older than the stream's start, or than an event the stream delivered while there was no
    // copy (found by the randomized test): the copy would miss that event for good.
    if ((this.streamFrom !== null && revision < this.streamFrom) || revision < this.droppedThrough) {
      this.kvs = null;
      return;
    }
    this.kvs = new Map(kvs.map((kv) => [kv.key, kv]));
    this.completeThrough = revision;
  }

  /**
   * A feeding watch stream now exists and delivers every event after `fromRevision`. A copy that
   * ends before that revision would miss events: it is dropped until the next full read.
   */
  watchStarted(fromRevision: number): void {
    this.streamFrom = fromRevision;
    this.droppedThrough = 0;
    if (this.kvs !== null && this.completeThrough < fromRevision) this.kvs = null;
  }

  /** The feeding watch stopped (broken stream, compaction, shutdown): the copy is no longer kept current. */
  watchStopped(): void {
    this.streamFrom = null;
  }

  /** Events of one watch response, in revision order. Events the copy already holds are skipped. */
  apply(events: WatchEventKv[]): void {
    if (this.kvs === null) {
      for (const event of events) this.droppedThrough = Math.max(this.droppedThrough, event.kv.modRevision);
      return;
    }
    // Events of one revision (a transaction's) come in one response: compare with where it started.
    const held = this.completeThrough;
    for (const event of events) {
      if (event.kv.modRevision <= held) continue;
      if (event.type === 'PUT') this.kvs.set(event.kv.key, event.kv);
      else this.kvs.delete(event.kv.key);
      this.completeThrough = event.kv.modRevision;
    }
  }

  /**
   * The copy, when it is live and complete through `provenRevision` (the revision a confirmed
   * keepalive reported); null otherwise.
   */
  read(provenRevision: number): CachedPrefix | null {
    if (!this.live || this.kvs === null || provenRevision > this.completeThrough) return null;
    return { kvs: [...this.kvs.values()], revision: this.completeThrough };
  }
}
