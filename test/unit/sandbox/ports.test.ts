/**
 * freePorts (sandbox/ports.ts): ports drawn below ip_local_port_range (where no outgoing
 * connection's source port lands), each reserved across processes by a file naming its owner's
 * pid and checked free by a bind; a dead owner's reservation is taken over, a live one's is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { RESERVATIONS, ephemeralLow, freePorts, reservePort } from '../../../src/sandbox/ports.js';

test('ip_local_port_range is read for its low end; Linux default when unreadable', () => {
  assert.equal(ephemeralLow('32768\t60999\n'), 32768);
  assert.equal(ephemeralLow('40000 50000'), 40000);
  assert.equal(ephemeralLow('garbage'), 32768);
});

test('ports are distinct, below the ephemeral range, reserved for this process and bindable', async () => {
  const ports = await freePorts(8);
  assert.equal(new Set(ports).size, 8);
  for (const port of ports) {
    assert.ok(port >= 15000 && port < ephemeralLow(), `${port} outside [15000, ${ephemeralLow()})`);
    assert.equal(readFileSync(join(RESERVATIONS, String(port)), 'utf8').trim(), String(process.pid));
    await new Promise<void>((resolve, reject) => {
      const server = createServer().once('error', reject);
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve()));
    });
  }
  const more = await freePorts(4);
  assert.deepEqual(
    more.filter((p) => ports.includes(p)),
    [],
    'never handed out twice',
  );
});

test("a live process's reservation is respected; a dead one's is taken over", () => {
  const dead = spawnSync(process.execPath, ['-e', '0']).pid; // exited: its pid names nobody now
  const port = 15000 + Math.floor(Math.random() * 1000);
  const file = join(RESERVATIONS, String(port));
  try {
    writeFileSync(file, '1\n'); // init: alive for as long as the machine is
    assert.equal(reservePort(port), false);
    writeFileSync(file, `${dead}\n`);
    assert.equal(reservePort(port), true);
    assert.equal(readFileSync(file, 'utf8').trim(), String(process.pid));
  } finally {
    rmSync(file, { force: true });
  }
});
