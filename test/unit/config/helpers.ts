/**
 * Shared helpers for the config tests: a minimal valid Patroni-format configuration as data,
 * turned into YAML and loaded the way the agent loads it (with a fixed bin_dir finder so the
 * tests do not depend on what is installed on the machine).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ConfigError } from '../../../src/errors.js';
import { parseConfig } from '../../../src/config/load.js';
import type { LocalConfig } from '../../../src/config/types.js';

export const FIXTURES = fileURLToPath(new URL('../../../../test/unit/config/fixtures/', import.meta.url));
export const SEED_FILE = `${FIXTURES}seed-patroni.yml`;

export const TEST_FILE = '/etc/keel/test.yml';

/** Long-lived test certificates (fixtures/tls): a CA, a server certificate it signed for 127.0.0.1/localhost, its key plain and encrypted. */
export const TLS_CA = `${FIXTURES}tls/ca.crt`;
export const TLS_CERT = `${FIXTURES}tls/server.crt`;
export const TLS_KEY = `${FIXTURES}tls/server.key`;
export const TLS_KEY_ENCRYPTED = `${FIXTURES}tls/server-encrypted.key`;
export const TLS_KEY_PASSWORD = 'key-secret';

/** A fresh minimal valid configuration (every required key, nothing else). */
export function minimal(): Record<string, unknown> {
  return {
    scope: 'demo',
    name: 'n1',
    restapi: { listen: '10.0.0.1:8008' },
    etcd3: { hosts: '10.0.0.11:2379' },
    postgresql: {
      listen: '10.0.0.1:5432',
      data_dir: '/var/lib/postgresql/16/main',
      authentication: { superuser: { username: 'postgres', password: 's' }, replication: { username: 'replicator', password: 'r' } },
    },
  };
}

/** YAML the way a person would write it for Patroni (YAML 1.1 quoting). */
export function toYaml(config: Record<string, unknown>): string {
  return stringify(config, { version: '1.1' });
}

export function load(config: Record<string, unknown> | string, env: NodeJS.ProcessEnv = {}): LocalConfig {
  const text = typeof config === 'string' ? config : toYaml(config);
  return parseConfig(text, TEST_FILE, env, { findBinDir: () => '/usr/lib/postgresql/16/bin' });
}

/** Sets `value` at a dotted path, creating mappings on the way (undefined deletes the key). */
export function setPath(config: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const keys = path.split('.');
  let node = config;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null || Array.isArray(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1] ?? '';
  if (value === undefined) delete node[last];
  else node[last] = value;
  return config;
}

/** Asserts that `fn` throws a ConfigError at `path` whose message contains `fragment`; returns it. */
export function assertConfigError(fn: () => unknown, path: string, fragment?: string | RegExp): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  assert.equal(caught.path, path, `path of: ${caught.message}`);
  assert.equal(caught.exitCode, 2);
  if (typeof fragment === 'string') assert.ok(caught.message.includes(fragment), `message "${caught.message}" lacks "${fragment}"`);
  else if (fragment !== undefined) assert.match(caught.message, fragment);
  return caught;
}
