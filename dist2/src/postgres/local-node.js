/**
 * This node's PostgreSQL for real: PostgresInstance (programs run as the postgres OS user, files
 * in the data directory) plus keel's own SQL connection, behind the PostgresNode port.
 */
import { existsSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { historyFileName } from '../ha/core/timeline.js';
import { writeFileAtomic } from './conf-files.js';
import { PostgresInstance, defaultServerLog } from './instance.js';
import { PostgresConnection } from './probe.js';
import { createBootstrapUsers, writePgpass } from './procedures.js';
import { syncPhysicalSlots } from './slots.js';
/** The timeline-origin marker's file in the data directory (PostgreSQL ignores it; its tools copy it). */
const TIMELINE_ORIGIN_FILE = 'keel.timeline-origin';
/** Deadline of every statement on keel's own connection. */
const SQL_TIMEOUT_MS = 5000;
export class LocalPostgres {
    paths;
    instance;
    conn = null;
    target = null;
    constructor(paths) {
        this.paths = paths;
        this.instance = new PostgresInstance({ ...paths, logFile: defaultServerLog(paths.dataDir) });
    }
    dataDirState() {
        return this.instance.dataDirState();
    }
    controlData() {
        return this.instance.controlData();
    }
    async hasStandbySignal() {
        return existsSync(join(this.paths.dataDir, 'standby.signal'));
    }
    managedConfigText() {
        return readFile(join(this.paths.configDir, 'postgresql.conf'), 'utf8').catch(() => '');
    }
    timelineHistoryText(timeline) {
        return readFile(join(this.paths.dataDir, 'pg_wal', historyFileName(timeline)), 'utf8').catch(() => null);
    }
    serverLogText(maxBytes) {
        return this.instance.serverLogText(maxBytes);
    }
    async readTimelineOrigin() {
        const text = await readFile(join(this.paths.dataDir, TIMELINE_ORIGIN_FILE), 'utf8').catch(() => null);
        if (text === null)
            return null;
        try {
            const parsed = JSON.parse(text);
            return typeof parsed.timeline === 'number' && typeof parsed.member === 'string' ? { timeline: parsed.timeline, member: parsed.member } : null;
        }
        catch {
            return null;
        }
    }
    async writeTimelineOrigin(origin) {
        await writeFileAtomic(join(this.paths.dataDir, TIMELINE_ORIGIN_FILE), `${JSON.stringify(origin)}\n`);
    }
    postmasterPid() {
        return this.instance.postmasterPid();
    }
    start(timeoutMs) {
        return this.instance.start(timeoutMs);
    }
    stop(mode, timeoutMs) {
        return this.instance.stop(mode, timeoutMs);
    }
    kill() {
        return this.instance.kill();
    }
    reload() {
        return this.instance.reload();
    }
    requestPromote(timeoutMs) {
        return this.instance.requestPromote(timeoutMs);
    }
    writeConfig(parameters, recovery) {
        return this.instance.writeConfig(parameters, recovery);
    }
    writePgpass(path, entries) {
        return writePgpass(path, entries);
    }
    initdb(args, superuser) {
        return this.instance.initdb(args, superuser);
    }
    appendHba(lines) {
        return this.instance.appendHba(lines);
    }
    replaceHba(lines) {
        return this.instance.replaceHba(lines);
    }
    cloneFrom(source, extraArgs, timeoutMs, onProgress, beforeReplace) {
        return this.instance.cloneFrom(source, extraArgs, timeoutMs, onProgress, beforeReplace);
    }
    rewind(sourceConninfo, password, timeoutMs) {
        return this.instance.rewind(sourceConninfo, password, timeoutMs);
    }
    async setAside(suffix) {
        if ((await this.instance.dataDirState()) === 'missing')
            return null;
        const aside = `${this.paths.dataDir}.${suffix}`;
        await rename(this.paths.dataDir, aside);
        return aside;
    }
    connectTo(target) {
        const same = this.target !== null && JSON.stringify(this.target) === JSON.stringify(target);
        if (same)
            return;
        void this.conn?.close();
        this.target = target;
        this.conn = new PostgresConnection(target, SQL_TIMEOUT_MS);
    }
    connection() {
        if (this.conn === null)
            throw new Error('LocalPostgres: connectTo() was never called');
        return this.conn;
    }
    probe() {
        return this.connection().probe();
    }
    async isInRecovery() {
        const [row] = await this.connection().query('SELECT pg_catalog.pg_is_in_recovery() AS in_recovery');
        return row?.in_recovery !== false;
    }
    async checkpoint(timeoutMs) {
        if (this.target === null)
            return;
        const own = new PostgresConnection(this.target, timeoutMs);
        try {
            await own.query('CHECKPOINT');
        }
        finally {
            await own.close();
        }
    }
    createBootstrapUsers(users) {
        return createBootstrapUsers(this.connection(), users);
    }
    syncSlots(wanted) {
        return syncPhysicalSlots(this.connection(), wanted);
    }
    async closeConnection() {
        await this.conn?.close();
    }
}
//# sourceMappingURL=local-node.js.map