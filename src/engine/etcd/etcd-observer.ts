/**
 * Who wants to know about every etcd request (the agent's keel_etcd_* metrics): the operation
 * (gateway path without its API prefix, e.g. `kv/range`), how long the attempt on one endpoint
 * took, and how it failed. Process-wide because the clients are built deep inside the DCS
 * adapters; an agent process has one agent. Observers must be cheap and must not throw (a
 * throwing observer is ignored).
 */
import { EtcdError } from './etcd-errors.js';
import { TransportError } from './etcd-http.js';

export type EtcdRequestObserver = (operation: string, durationMs: number, errorKind: string | null) => void;

const observers = new Set<EtcdRequestObserver>();

/** Adds an observer; returns the function that removes it. */
export function observeEtcdRequests(observer: EtcdRequestObserver): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

/** The error kind reported for a failed attempt: etcd's error kind, `tls`, `transport` (no answer), or `other`. */
export function etcdFailureKind(error: unknown): string {
  if (error instanceof EtcdError) return error.kind;
  if (error instanceof TransportError) return error.tls ? 'tls' : 'transport';
  return 'other';
}

export function reportEtcdRequest(path: string, durationMs: number, error: unknown): void {
  if (observers.size === 0) return;
  const operation = path.replace(/^\//, '');
  const kind = error === null ? null : etcdFailureKind(error);
  for (const observer of observers) {
    try {
      observer(operation, durationMs, kind);
    } catch {
      // an observer's bug must not break etcd requests
    }
  }
}
