/**
 * The agent's runtime-API client never holds anything up: a socket that accepts and never answers
 * is given up after RUNTIME_API_TIMEOUT_MS, a missing one at once, and each is reported once —
 * not on every role change — until it answers again.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaproxyRuntimeClient, RUNTIME_API_TIMEOUT_MS } from '../../../src/haproxy/runtime-client.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function recorder() {
  const lines: string[] = [];
  return { lines, log: { info: (m: string) => lines.push(`info ${m}`), warning: (m: string) => lines.push(`warning ${m}`) } };
}

test('a silent HAProxy is given up after the deadline and reported once; an answering one is reported as told', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-runtime-'));
  dirs.push(dir);
  const socket = join(dir, 'silent.sock');
  const held: Socket[] = [];
  let answer: string | null = null;
  const received: string[] = [];
  // allowHalfOpen: the client half-closes after its commands; a silent HAProxy keeps its side open
  const server = createServer({ allowHalfOpen: true }, (connection) => {
    held.push(connection);
    connection.setEncoding('utf8');
    connection.on('data', (chunk: string) => {
      received.push(chunk);
      if (answer !== null) connection.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  try {
    const { lines, log } = recorder();
    const client = new HaproxyRuntimeClient(log);
    const started = performance.now();
    await client.announce([socket], ['set server w/a health up'], 'a promoted');
    const tookMs = performance.now() - started;
    assert.ok(tookMs >= RUNTIME_API_TIMEOUT_MS - 50 && tookMs < RUNTIME_API_TIMEOUT_MS + 1500, `took ${tookMs} ms`);
    await client.announce([socket], ['set server w/a health down'], 'a demoted');
    assert.equal(lines.filter((l) => l.startsWith('warning')).length, 1, lines.join('\n'));
    assert.match(lines[0] ?? '', /not reachable \(no answer within 500 ms\).*the HA loop goes on/);
    assert.match(received.join(''), /set server w\/a health up\n/);

    answer = '';
    await client.announce([socket], ['set server w/a health up', 'set server r/a health down'], 'a promoted');
    assert.deepEqual(lines.slice(1), [`info HAProxy runtime API at ${socket} answers again`, `info told HAProxy at ${socket}: a promoted`]);
    assert.match(received.join(''), /set server w\/a health up; set server r\/a health down\n/);
  } finally {
    for (const connection of held) connection.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a missing socket fails at once and is reported once', async () => {
  const { lines, log } = recorder();
  const client = new HaproxyRuntimeClient(log);
  const started = performance.now();
  await client.announce(['/nonexistent/keel-haproxy.sock', '127.0.0.1:1'], ['set server w/a health up'], 'a promoted');
  await client.announce(['/nonexistent/keel-haproxy.sock', '127.0.0.1:1'], ['set server w/a health up'], 'a promoted');
  assert.ok(performance.now() - started < RUNTIME_API_TIMEOUT_MS * 2 + 500);
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.ok(lines.every((l) => l.startsWith('warning HAProxy runtime API at ')));
});
