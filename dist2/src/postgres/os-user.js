/**
 * Running PostgreSQL's programs as the `postgres` OS user.
 *
 * PostgreSQL refuses to run as root. When keel itself runs as root, every PostgreSQL binary
 * (initdb, pg_ctl, pg_basebackup, pg_rewind, pg_controldata) is spawned with the uid/gid of the
 * `postgres` user and files keel creates for PostgreSQL are chowned to it. When keel runs as
 * an ordinary user, that user runs PostgreSQL directly.
 */
import { readFileSync } from 'node:fs';
import { chown } from 'node:fs/promises';
import { KeelError } from '../errors.js';
let cachedPostgresUser;
/** Looks a user up in /etc/passwd (Node has no getpwnam). */
export function lookupUser(name, passwdText) {
    const text = passwdText ?? readFileSync('/etc/passwd', 'utf8');
    for (const line of text.split('\n')) {
        const fields = line.split(':');
        if (fields[0] === name && fields.length >= 7) {
            return { name, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] ?? '/' };
        }
    }
    return null;
}
/**
 * The identity PostgreSQL programs run as: the `postgres` user when keel runs as root,
 * null (= keel's own identity) otherwise.
 */
export function postgresRunAs() {
    if (process.getuid === undefined || process.getuid() !== 0)
        return null;
    if (cachedPostgresUser === undefined)
        cachedPostgresUser = lookupUser('postgres');
    if (cachedPostgresUser === null) {
        throw new KeelError('postgres.no_os_user', 'keel runs as root but there is no "postgres" OS user to run PostgreSQL as', {
            hint: 'install postgresql (it creates the user) or run keel as the user that owns the data directory',
        });
    }
    return cachedPostgresUser;
}
/** Gives a path keel created to the user PostgreSQL runs as (no-op when not root). */
export async function giveToPostgres(path) {
    const user = postgresRunAs();
    if (user !== null)
        await chown(path, user.uid, user.gid);
}
//# sourceMappingURL=os-user.js.map