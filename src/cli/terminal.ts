/**
 * What the operator verbs need from the terminal: questions answered on stdin (click.prompt and
 * click.confirm in patronictl), colour only when stdout is a terminal, and clearing the screen for
 * watch mode. Answers are read line by line from stdin whether or not it is a terminal (so scripts
 * can pipe them, as with patronictl); stdin ending before an answer is a one-line error.
 */
import { createInterface, type Interface } from 'node:readline';
import { styleText } from 'node:util';
import { Writable } from 'node:stream';
import { KeelError } from '../errors.js';

let reader: Interface | null = null;
const pendingLines: string[] = [];
const waiting: Array<(line: string | null) => void> = [];
let ended = false;

function stdinLines(): void {
  if (reader !== null) return;
  reader = createInterface({ input: process.stdin, terminal: false });
  reader.on('line', (line) => {
    const next = waiting.shift();
    if (next === undefined) pendingLines.push(line);
    else next(line);
  });
  reader.on('close', () => {
    ended = true;
    for (const next of waiting.splice(0)) next(null);
  });
}

function nextLine(): Promise<string | null> {
  stdinLines();
  const line = pendingLines.shift();
  if (line !== undefined) return Promise.resolve(line);
  if (ended) return Promise.resolve(null);
  return new Promise((resolve) => waiting.push(resolve));
}

/** Stops reading stdin (so the process can exit once the verb is done). */
export function closeTerminal(): void {
  reader?.close();
  reader = null;
}

/** Asks a question and returns the answer; `what` names the question in the error when stdin ends. */
export async function ask(question: string, what: string): Promise<string> {
  process.stdout.write(`${question}: `);
  const line = await nextLine();
  if (line === null) {
    process.stdout.write('\n');
    throw new KeelError('cli.no_answer', `no answer to "${what}" (stdin ended)`, { exitCode: 1 });
  }
  return line.trim();
}

/** Asks for a secret: on a terminal the typed text is not echoed (click.prompt(hide_input=True)). */
export async function askSecret(question: string, what: string): Promise<string> {
  if (!stdinIsTerminal()) return ask(question, what);
  process.stdout.write(`${question}: `);
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const secretReader = createInterface({ input: process.stdin, output: muted, terminal: true });
  try {
    const answer = await new Promise<string | null>((resolve) => {
      secretReader.once('line', resolve);
      secretReader.once('close', () => resolve(null));
    });
    process.stdout.write('\n');
    if (answer === null) throw new KeelError('cli.no_answer', `no answer to "${what}" (stdin ended)`);
    return answer;
  } finally {
    secretReader.close();
  }
}

/** click.confirm: "question [y/N]: ", yes only for y/yes. */
export async function confirm(question: string): Promise<boolean> {
  const answer = (await ask(`${question} [y/N]`, question)).toLowerCase();
  return answer === 'y' || answer === 'yes';
}

export function stdinIsTerminal(): boolean {
  return process.stdin.isTTY === true;
}

export function stdoutIsTerminal(): boolean {
  return process.stdout.isTTY === true;
}

export type Colour = 'red' | 'green' | 'cyan' | 'bold';

/**
 * Colours text for stdout, plain when stdout is not a terminal or NO_COLOR is set. styleText adds
 * Node's own detection on top (TERM=dumb or unset, CI=…, FORCE_COLOR), as other terminal tools do.
 */
export function paint(colour: Colour, text: string): string {
  return stdoutIsTerminal() && process.env['NO_COLOR'] === undefined ? styleText(colour, text) : text;
}

/** click.clear(): clears the screen only on a terminal. */
export function clearScreen(): void {
  if (stdoutIsTerminal()) process.stdout.write('\x1b[2J\x1b[H');
}
