/**
 * Finding PostgreSQL's binaries when postgresql.bin_dir is not set: Debian keeps each major
 * version in /usr/lib/postgresql/<major>/bin; the newest installed one is used.
 */
import { readdir, access } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';

export async function findBinDir(root = '/usr/lib/postgresql'): Promise<string> {
  let versions: string[] = [];
  try {
    versions = (await readdir(root)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch {
    // fall through to the error below
  }
  for (const version of versions) {
    const dir = join(root, version, 'bin');
    try {
      await access(join(dir, 'postgres'));
      return dir;
    } catch {
      // this version has no server binaries; try the next
    }
  }
  throw new KeelError('postgres.no_binaries', `no PostgreSQL server binaries under ${root}/<version>/bin`, { hint: 'install postgresql-15 or set postgresql.bin_dir' });
}
