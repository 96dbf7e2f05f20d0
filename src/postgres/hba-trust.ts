/**
 * Which pg_hba lines let a connection in with no password at all (method `trust`) once keel has
 * bootstrapped a cluster. initdb trusts every local and loopback connection unless bootstrap.initdb
 * gives it an auth method (Patroni passes the same options, so a Patroni file such as the seed's
 * leaves those lines too): any OS user of the host can then connect as the superuser through the
 * socket or 127.0.0.1. keel keeps Patroni's behaviour and says so in its log at bootstrap, with
 * the fix. Pure: from the configuration, not from the file.
 */

/** The value of initdb's last `--name=value` (or `--name value`) among `args`, if any. */
function initdbOption(args: readonly string[], name: string): string | undefined {
  let found: string | undefined;
  for (const [i, arg] of args.entries()) {
    if (arg.startsWith(`--${name}=`)) found = arg.slice(name.length + 3);
    else if (arg === `--${name}`) found = args[i + 1];
  }
  return found;
}

/** A pg_hba line whose method is trust (comments and blank lines are not lines). */
export function isTrustLine(line: string): boolean {
  const fields = line.replace(/#.*$/, '').trim().split(/\s+/);
  return fields.includes('trust');
}

/**
 * The trusting lines pg_hba.conf will hold: of `configured` (postgresql.pg_hba, local or dynamic,
 * which replaces the file) when set, else initdb's own (described, when it was given no method)
 * and those of bootstrap.pg_hba appended to them.
 */
export function trustingHbaLines(configured: readonly string[] | undefined, initdbArgs: readonly string[], bootstrapHba: readonly string[]): string[] {
  if (configured !== undefined) return configured.filter(isTrustLine);
  const auth = initdbOption(initdbArgs, 'auth');
  const local = initdbOption(initdbArgs, 'auth-local') ?? auth ?? 'trust';
  const host = initdbOption(initdbArgs, 'auth-host') ?? auth ?? 'trust';
  return [
    ...(local === 'trust' ? ['local all all trust (initdb)', 'local replication all trust (initdb)'] : []),
    ...(host === 'trust' ? ['host all all 127.0.0.1/32 trust (initdb)', 'host all all ::1/128 trust (initdb)'] : []),
    ...bootstrapHba.filter(isTrustLine),
  ];
}
