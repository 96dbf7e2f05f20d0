/**
 * Bounded concurrency for the backup and restore file loops: at most `limit` items in work at
 * once, as a data directory is hundreds of small files whose opens, reads and fsyncs are
 * latency, not work.
 */

/**
 * Maps `items` through `work`, at most `limit` at a time; results in the items' order. After a
 * failure no new item starts, and the first failure is thrown once every started item has
 * settled: nothing keeps running on a file, a worker pool or a handle the caller closes next.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, lane));
  const failure = lanes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  return results;
}
