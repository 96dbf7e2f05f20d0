/** One request on the keel-fence guarding `dataDir`, and its one-line answer ('' when none runs); unsolicited "event" lines are skipped. */
import { connect } from 'node:net';
import { fenceSocketName } from '../../src/engine/process-fence.js';

export function askKeelFence(dataDir: string, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ path: `\0${fenceSocketName(dataDir)}` });
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
      while (answer.startsWith('event ') && answer.includes('\n')) answer = answer.slice(answer.indexOf('\n') + 1);
      if (answer.includes('\n')) socket.destroy();
    });
    socket.on('error', () => resolve(''));
    socket.on('close', () => resolve(answer.trim()));
    socket.write(`${request}\n`);
  });
}
