/**
 * Progress (progress.ts): on a terminal a bar redrawn in place with percentage, bytes, throughput
 * and time left, fitted to the width; elsewhere a DETAIL log line per tenth of the way and one at
 * the end. A fake terminal and a fake clock make the renderings exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress, type ProgressStream } from '../../../src/backup/progress.js';
import { BackupLog } from '../../../src/backup/log.js';

const MIB = 1024 * 1024;

class FakeTerminal implements ProgressStream {
  readonly isTTY: boolean;
  written = '';
  constructor(
    tty: boolean,
    readonly columns = 100,
  ) {
    this.isTTY = tty;
  }
  write(text: string): boolean {
    this.written += text;
    return true;
  }
  /** What the screen shows: each \r returns to the line's start, \x1b[K erases to its end. */
  screen(): string[] {
    const lines: string[] = [];
    for (const line of this.written.split('\n')) {
      const redraws = line.split('\r');
      lines.push((redraws[redraws.length - 1] ?? '').replaceAll('\x1b[K', ''));
    }
    return lines;
  }
}

function clock(): { nowMs: () => number; tick: (ms: number) => void } {
  let now = 1_000_000;
  return { nowMs: () => now, tick: (ms) => (now += ms) };
}

test('on a TTY: a bar of one width redrawn in place, at most 5 times a second, with throughput and time left, then 100% and a newline', () => {
  const terminal = new FakeTerminal(true, 100);
  const time = clock();
  const lines: string[] = [];
  const progress = new Progress('restore 20240115-140000F', 100 * MIB, undefined, {
    stream: terminal,
    nowMs: time.nowMs,
    log: new BackupLog('detail', (line) => lines.push(line)),
  });
  time.tick(1000);
  progress.advance(25 * MIB);
  assert.equal(terminal.screen().at(-1), 'restore 20240115-140000F [#######.....................]  25% 25/100 MiB, 25.0 MiB/s, 3.0s left');
  const drawn = terminal.written;
  time.tick(100);
  progress.advance(5 * MIB);
  assert.equal(terminal.written, drawn, 'no redraw within 200 ms');
  time.tick(900);
  progress.advance(20 * MIB);
  assert.equal(terminal.screen().at(-1), 'restore 20240115-140000F [##############..............]  50% 50/100 MiB, 25.0 MiB/s, 2.0s left');
  time.tick(2000);
  progress.advance(50 * MIB);
  progress.finish();
  assert.deepEqual(terminal.screen().slice(-2), ['restore 20240115-140000F [############################] 100% 100/100 MiB, 25.0 MiB/s, in 4.0s', '']);
  assert.ok(terminal.written.endsWith('\n'), 'the prompt comes back on a fresh line');
  assert.deepEqual(lines, [], 'no log lines while a bar is drawn');
});

test('on a narrow TTY the bar shrinks and the line never wraps', () => {
  const terminal = new FakeTerminal(true, 60);
  const time = clock();
  const progress = new Progress('backup 20240115-140000F_20240116-020000D', 3 * 1024 * MIB, undefined, { stream: terminal, nowMs: time.nowMs });
  time.tick(10_000);
  progress.advance(1024 * MIB);
  progress.finish();
  for (const line of terminal.screen()) assert.ok(line.length < 60, `${JSON.stringify(line)} fits in 60 columns`);
  assert.match(terminal.screen()[0] ?? '', /^backup 20240115-140000F_20240116-020000D \[#{3}\.{7}\]  33%/);
});

test('not a TTY: no bar, a DETAIL line per tenth of the way and one at the end; nothing at info level', () => {
  const terminal = new FakeTerminal(false);
  const time = clock();
  const detail: string[] = [];
  const info: string[] = [];
  const progress = new Progress('restore 20240115-140000F', 1000 * MIB, undefined, {
    stream: terminal,
    nowMs: time.nowMs,
    log: new BackupLog('detail', (line) => detail.push(line)),
  });
  const quiet = new Progress('restore 20240115-140000F', 1000 * MIB, undefined, {
    stream: terminal,
    nowMs: time.nowMs,
    log: new BackupLog('info', (line) => info.push(line)),
  });
  for (let i = 0; i < 40; i++) {
    time.tick(100);
    progress.advance(25 * MIB);
    quiet.advance(25 * MIB);
  }
  progress.finish();
  quiet.finish();
  assert.equal(terminal.written, '', 'nothing drawn on a non-TTY stream');
  assert.equal(detail.length, 10, detail.join(''));
  assert.equal(detail[0], 'P00 DETAIL: restore 20240115-140000F: 10% (100/1000 MiB, 250.0 MiB/s, ? left)\n');
  assert.equal(detail[8], 'P00 DETAIL: restore 20240115-140000F: 90% (900/1000 MiB, 250.0 MiB/s, 0.4s left)\n');
  assert.equal(detail[9], 'P00 DETAIL: restore 20240115-140000F: 100% (1000/1000 MiB, 250.0 MiB/s, in 4.0s)\n');
  assert.deepEqual(info, [], 'progress lines are DETAIL: log-level-console=info stays as pgBackRest prints it');
});

test('--progress forces the bar on a non-TTY, --no-progress turns it off on a TTY', () => {
  const pipe = new FakeTerminal(false);
  const forced = new Progress('backup x', MIB, true, { stream: pipe, nowMs: clock().nowMs });
  forced.advance(MIB);
  forced.finish();
  assert.match(pipe.screen()[0] ?? '', /^backup x \[#+\] 100% 1\/1 MiB/);
  const tty = new FakeTerminal(true);
  const off = new Progress('backup x', MIB, false, { stream: tty, nowMs: clock().nowMs });
  off.advance(MIB);
  off.finish();
  assert.equal(tty.written, '');
});

test('an empty database is 100% at once (no division by zero)', () => {
  const terminal = new FakeTerminal(true);
  const progress = new Progress('backup x', 0, undefined, { stream: terminal, nowMs: clock().nowMs });
  progress.finish();
  assert.match(terminal.screen()[0] ?? '', /\[#+\] 100% 0\/0 MiB/);
});
