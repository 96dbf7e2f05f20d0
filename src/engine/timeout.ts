/** Waiting on a promise with a deadline, without leaving its timer behind. */

/** `work`'s value, or `onTimeout()`'s once `ms` have passed first; the timer is cleared either way. */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
