/**
 * keel-fence's isolation probe (native/isolation-probe.c), driven through the agent's client
 * (ProcessFence.probe), against a stand-in etcd (an HTTP server answering the range read as the
 * gateway does, or not) and stand-in members (TCP listeners, or closed ports). What the agent's
 * isolation watch relies on: healthy rounds say nothing, every other round is reported with its
 * facts, the first healthy round after them is reported once, the probe survives keel-fence
 * being killed, and it slows down while PostgreSQL's WAL is quiet and comes back at the first
 * write. Every keel-fence started is killed by PID in `after`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessFence, keelFencePids, type IsolationProbeReport, type IsolationProbeSettings } from '../../../src/engine/process-fence.js';
import { requestBytes } from '../../../src/engine/etcd/http1-exchange.js';
import { systemClock } from '../../../src/engine/clock.js';
import { createLogger } from '../../../src/observability/log.js';
import { eventually } from '../../support/sandbox.js';
import { askKeelFence as ask } from '../../support/keel-fence.js';

const dirs: string[] = [];
const servers: (Server | HttpServer)[] = [];

after(async () => {
  for (const pid of keelFencePids(dirs.map((d) => join(d, 'data')))) process.kill(pid, 'SIGKILL');
  for (const server of servers) {
    (server as HttpServer).closeAllConnections?.();
    server.close();
  }
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type EtcdMode = 'ok' | 'silent' | 'unauthorized';

/** An HTTP server answering POST /v3/kv/range as etcd's gateway does, in the mode asked. */
async function fakeEtcd(): Promise<{ port: number; setMode: (mode: EtcdMode) => void; requests: () => number; connections: () => number }> {
  let mode: EtcdMode = 'ok';
  let requests = 0;
  let connections = 0;
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url !== '/v3/kv/range' || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      requests++;
      if (mode === 'silent') return; // never answered: a member without its quorum holds the read
      if (mode === 'unauthorized') {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"etcdserver: invalid auth token","code":16}');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"header":{"cluster_id":"1","member_id":"2","revision":"7","raft_term":"3"},"kvs":[{"key":"L3NlcnZpY2UvZGVtby9sZWFkZXI="}],"count":"1"}');
    });
  });
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, setMode: (m) => (mode = m), requests: () => requests, connections: () => connections };
}

/** A member's REST address that accepts connections. */
async function liveMember(): Promise<{ address: string; server: Server }> {
  const server = createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

/** A loopback port nobody listens on (connections are refused). */
async function closedPort(): Promise<string> {
  const { address, server } = await liveMember();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address;
}

/** keel-fence started (armed) for a data directory of its own; `withWal`: it has a pg_wal. */
async function armedFence(withWal = false): Promise<{ dataDir: string; fence: ProcessFence; logLines: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-probe-test-'));
  dirs.push(dir);
  const dataDir = join(dir, 'data');
  await mkdir(withWal ? join(dataDir, 'pg_wal') : dataDir, { recursive: true });
  const logLines: string[] = [];
  const fence = new ProcessFence({ dataDir, clock: systemClock, log: createLogger({ level: 'debug', format: 'text', write: (line) => logLines.push(line) }) });
  // An arm far away starts keel-fence (no postmaster here: a firing would stop nothing anyway).
  fence.feed(systemClock.now() + 600_000);
  return { dataDir, fence, logLines };
}

function settings(etcd: string[], members: string[], everyMs = 50): IsolationProbeSettings {
  const request = requestBytes(
    'POST',
    '/v3/kv/range',
    { host: '127.0.0.1', port: 2379 },
    {},
    JSON.stringify({ key: 'L3NlcnZpY2UvZGVtby9sZWFkZXI=', limit: '1' }),
  );
  const hostPort = (address: string) => ({ host: address.slice(0, address.lastIndexOf(':')), port: Number(address.slice(address.lastIndexOf(':') + 1)) });
  return { everyMs, etcdTimeoutMs: 250, quickMs: 60, peerTimeoutMs: 250, etcd: etcd.map(hostPort), members: members.map(hostPort), request };
}

/** keel-fence started and running the probe against these targets, its reports collected. */
async function probing(
  etcd: string[],
  members: string[],
  options: { everyMs?: number; withWal?: boolean } = {},
): Promise<{ dataDir: string; fence: ProcessFence; logLines: string[]; reports: IsolationProbeReport[] }> {
  const started = await armedFence(options.withWal);
  const reports: IsolationProbeReport[] = [];
  started.fence.probe(settings(etcd, members, options.everyMs), (r) => reports.push(r));
  await eventually('keel-fence runs the probe', 5000, async () => (started.fence.probeRunning() ? true : undefined));
  return { ...started, reports };
}

async function standDown(fence: ProcessFence): Promise<void> {
  fence.probe(null, () => undefined);
  fence.feed(null);
  await fence.close();
}

test('healthy rounds report nothing over one kept-alive connection; etcd silent, then members gone, then etcd back: each reported', async () => {
  const etcd = await fakeEtcd();
  const member = await liveMember();
  const refused = await closedPort();
  const { fence, reports } = await probing([`127.0.0.1:${etcd.port}`], [member.address, refused]);

  await sleep(1000);
  assert.equal(reports.length, 0, 'a healthy round reports nothing');
  assert.ok(etcd.requests() >= 5, `only ${etcd.requests()} reads in 1 s at a 50 ms pace`);
  assert.ok(etcd.connections() <= 2, `${etcd.connections()} connections for ${etcd.requests()} reads: the connection is not kept alive`);

  etcd.setMode('silent');
  const silent = await eventually('a round without etcd is reported', 5000, async () => reports.find((r) => !r.etcdAnswered));
  assert.deepEqual({ ...silent, roundMs: 0 }, { etcdAnswered: false, peers: 2, peersAnswered: 1, etcdStatus: 0, roundMs: 0 });
  assert.ok(silent.roundMs >= 200 && silent.roundMs < 1000, `the round took ${silent.roundMs} ms (etcd timeout 250 ms)`);

  await new Promise<void>((resolve) => member.server.close(() => resolve()));
  const isolated = await eventually('a round with no member answering', 5000, async () => reports.find((r) => !r.etcdAnswered && r.peersAnswered === 0));
  assert.equal(isolated.peers, 2);

  etcd.setMode('ok');
  await eventually('the first healthy round is reported', 5000, async () => (reports.at(-1)?.etcdAnswered === true ? true : undefined));
  const settled = reports.length;
  await sleep(600);
  assert.equal(reports.length, settled, 'healthy rounds after the first are not reported');
  assert.deepEqual({ ...reports.at(-1), roundMs: 0 }, { etcdAnswered: true, peers: 2, peersAnswered: 0, etcdStatus: 200, roundMs: 0 });
  await standDown(fence);
});

test('an endpoint that refuses is passed over within the round; a refusal by etcd (401) is reported with its status, not as an answer', async () => {
  const etcd = await fakeEtcd();
  const refused = await closedPort();
  const member = await liveMember();
  const { fence, reports } = await probing([refused, `127.0.0.1:${etcd.port}`], [member.address]);
  await sleep(800);
  assert.ok(etcd.requests() >= 3, `the second endpoint got ${etcd.requests()} reads`);
  assert.equal(reports.length, 0, 'the refusing endpoint made a round slow');

  etcd.setMode('unauthorized');
  const refusal = await eventually('a 401 is reported', 5000, async () => reports.find((r) => r.etcdStatus === 401));
  assert.equal(refusal.etcdAnswered, false, 'a 401 is no proof of a quorum');
  assert.equal(refusal.peersAnswered, 1);
  await standDown(fence);
});

test('keel-fence killed: the agent is told, starts it again and it probes again; bad settings are refused with a one-line error; a re-aim that does not resolve is told too', async () => {
  const etcd = await fakeEtcd();
  const { dataDir, fence, logLines, reports } = await probing([`127.0.0.1:${etcd.port}`], []);
  const [pid] = keelFencePids([dataDir]);
  assert.ok(pid !== undefined);
  // The agent sets no timer of its own while keel-fence probes: the loss must be told to it.
  let stopsTold = 0;
  fence.onProbeStopped(() => stopsTold++);
  process.kill(pid, 'SIGKILL');
  await eventually('the agent is told the probe stopped', 5000, async () => (stopsTold > 0 ? true : undefined));
  await eventually('a new keel-fence runs the probe', 5000, async () => {
    const pids = keelFencePids([dataDir]);
    return pids.length === 1 && pids[0] !== pid && fence.probeRunning() ? true : undefined;
  });
  const before = etcd.requests();
  await sleep(500);
  assert.ok(etcd.requests() > before + 3, 'the restarted keel-fence does not probe');
  assert.equal(reports.length, 0);

  assert.match(await ask(dataDir, 'probe 50 250 60'), /^error probe needs/);
  assert.match(await ask(dataDir, 'probe 50 250 60 250 etcd.example:2379 - 00'), /^error probe addresses must be numeric/);
  assert.match(await ask(dataDir, 'probe 50 250 60 250 127.0.0.1:1 - 0g'), /^error probe request must be hex/);
  // The agent's own probe still runs: a refused request from another client changes nothing.
  const still = etcd.requests();
  await sleep(300);
  assert.ok(etcd.requests() > still, 'a refused request stopped the running probe');
  // Re-aimed at a member whose name does not resolve: the old probe stops, and the agent, which
  // relied on it, is told (a DNS lookup that times out is allowed for).
  stopsTold = 0;
  fence.probe(settings([`127.0.0.1:${etcd.port}`], ['no-such-member.invalid:8008']), () => undefined);
  await eventually('the agent is told the re-aimed probe does not run', 30_000, async () => (stopsTold > 0 ? true : undefined));
  assert.equal(fence.probeRunning(), false);
  assert.ok(logLines.some((l) => l.includes('does not resolve')));
  fence.probe(null, () => undefined);
  await eventually('probe stopped', 5000, async () => (logLines.some((l) => l.includes('isolation probe stopped')) ? true : undefined));
  const stopped = etcd.requests();
  await sleep(300);
  assert.equal(etcd.requests(), stopped, 'the probe kept running after probe-stop');
  await standDown(fence);
});

test('quiet WAL: rounds slow down to one every 5 paces after 25 paces without a write, and the first write brings a round at once and the fast pace back', async () => {
  // At a 300 ms pace: quiet after 7.5 s without a WAL write, then a round every 1.5 s.
  const etcd = await fakeEtcd();
  const member = await liveMember();
  const { dataDir, fence, reports } = await probing([`127.0.0.1:${etcd.port}`], [member.address], { everyMs: 300, withWal: true });
  const segment = join(dataDir, 'pg_wal', '000000010000000000000001');
  /** The instants (performance.now) at which etcd received a read, from now on. */
  const arrivals: number[] = [];
  let seen = etcd.requests();
  const watcher = setInterval(() => {
    for (; seen < etcd.requests(); seen++) arrivals.push(performance.now());
  }, 5);
  try {
    const countOver = async (ms: number, during?: () => Promise<void>): Promise<number> => {
      const from = etcd.requests();
      const until = performance.now() + ms;
      while (performance.now() < until) await (during === undefined ? sleep(until - performance.now()) : during());
      return etcd.requests() - from;
    };
    // A fresh probe has seen no write yet: it starts at the fast pace.
    const fresh = await countOver(2400);
    assert.ok(fresh >= 5, `${fresh} reads in 2.4 s just after the start, at a 300 ms pace`);

    await sleep(6000); // 8.4 s without a write by now
    const quiet = await countOver(4500);
    assert.ok(quiet >= 1 && quiet <= 5, `${quiet} reads in 4.5 s of quiet WAL: expected about 3 (one every 1.5 s), 15 at the fast pace`);

    // The first write after a quiet spell: a round at once, not at the next quiet round.
    const last = arrivals.length;
    await eventually('a quiet round', 5000, async () => (arrivals.length > last ? true : undefined));
    await sleep(100);
    const wroteAt = performance.now();
    await appendFile(segment, 'x');
    const woken = await eventually('a round after the write', 5000, async () => arrivals.find((t) => t > wroteAt));
    assert.ok(woken - wroteAt < 800, `the first round came ${Math.round(woken - wroteAt)} ms after the write; the quiet pace would be about 1400`);

    // While PostgreSQL writes, the fast pace holds.
    const busy = await countOver(3000, async () => {
      await appendFile(segment, 'x');
      await sleep(100);
    });
    assert.ok(busy >= 6, `${busy} reads in 3 s of WAL writes: expected about 10 at the fast pace, 2 at the quiet one`);
    assert.equal(reports.length, 0, 'healthy rounds were reported');
  } finally {
    clearInterval(watcher);
    await standDown(fence);
  }
});
