/**
 * The write-loss / split-brain checker's writer: it tries to insert a sequential id on EVERY
 * node, all the time, and records each acknowledgement (the COMMIT returned) with the node and
 * the monotonic instant it arrived. Replicas refuse (read-only); a fenced primary blocks the
 * COMMIT until the client gives up — neither is an acknowledgement.
 *
 * checkSingleWriter() then asserts no interleaving: once a node's acknowledgements stop and
 * another's start, the first never acknowledges again while the second is acknowledging.
 */
import pg from 'pg';
export class AckWriter {
    targets;
    password;
    table;
    acks = [];
    nextId = 1;
    running = false;
    loops = [];
    constructor(targets, password, table = 'ack_log') {
        this.targets = targets;
        this.password = password;
        this.table = table;
    }
    async prepare(primary) {
        const client = this.client(primary);
        await client.connect();
        try {
            await client.query(`CREATE TABLE IF NOT EXISTS ${this.table} (id bigint PRIMARY KEY, node text NOT NULL)`);
        }
        finally {
            await client.end();
        }
    }
    client(target) {
        const client = new pg.Client({
            host: target.host,
            port: target.port,
            user: 'postgres',
            password: this.password,
            database: 'postgres',
            connectionTimeoutMillis: 1000,
            query_timeout: 1500,
        });
        client.on('error', () => undefined);
        return client;
    }
    async loop(target, periodMs) {
        let client = null;
        while (this.running) {
            const id = this.nextId++;
            try {
                if (client === null) {
                    client = this.client(target);
                    await client.connect();
                }
                await client.query(`INSERT INTO ${this.table} (id, node) VALUES ($1, $2)`, [id, target.name]);
                this.acks.push({ node: target.name, id, atMs: performance.now() });
            }
            catch {
                if (client !== null)
                    void client.end().catch(() => undefined);
                client = null;
            }
            await new Promise((r) => setTimeout(r, periodMs));
        }
        if (client !== null)
            await client.end().catch(() => undefined);
    }
    start(periodMs = 50) {
        this.running = true;
        this.loops = this.targets.map((t) => this.loop(t, periodMs));
    }
    async stop() {
        this.running = false;
        await Promise.all(this.loops);
    }
}
/** Runs of consecutive acknowledgements by the same node, in arrival order. */
export function ackRuns(acks) {
    const sorted = [...acks].sort((a, b) => a.atMs - b.atMs);
    const runs = [];
    for (const ack of sorted) {
        const last = runs[runs.length - 1];
        if (last !== undefined && last.node === ack.node) {
            last.lastMs = ack.atMs;
            last.count += 1;
        }
        else {
            runs.push({ node: ack.node, firstMs: ack.atMs, lastMs: ack.atMs, count: 1 });
        }
    }
    return runs;
}
/**
 * Never two primaries acknowledging at once: the run sequence must not switch back to a node
 * that already handed over (A, B, A means A acknowledged while B was already acknowledging).
 * Returns a description of the violation, or null.
 */
export function singleWriterViolation(acks) {
    const runs = ackRuns(acks);
    const finished = new Set();
    for (let i = 0; i < runs.length; i++) {
        const run = runs[i];
        if (run === undefined)
            continue;
        if (finished.has(run.node)) {
            return `node ${run.node} acknowledged again at ${run.firstMs.toFixed(0)} ms after another primary had taken over: ${runs
                .slice(Math.max(0, i - 2), i + 1)
                .map((r) => `${r.node}x${r.count}`)
                .join(' -> ')}`;
        }
        const previous = runs[i - 1];
        if (previous !== undefined)
            finished.add(previous.node);
    }
    return null;
}
//# sourceMappingURL=ack-writer.js.map