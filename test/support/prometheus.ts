/**
 * Test support (no tests here): a strict parser of Prometheus's text exposition format (0.0.4),
 * written by hand because the npm parser tried (parse-prometheus-text-format 1.1.1) merges the
 * buckets of labelled histograms and reads a stray word as a timestamp.
 *
 * What it enforces (the format's documentation, "Text-based format"): `# HELP` / `# TYPE` lines
 * name a family before its samples, at most once each; a family's samples are contiguous; sample
 * names are the family's (plus _bucket/_sum/_count for a histogram); label names are valid and
 * unique in a sample, label values quoted with \\ \" \n escapes only; values are Go floats
 * (or +Inf, -Inf, NaN); no sample appears twice; a histogram's buckets carry `le`, are
 * cumulative and end with +Inf equal to _count. Tokens may be separated by blanks, as the
 * format allows (Patroni 3.0.2 prints `patroni_postgres_server_version {scope="..."}`).
 * Anything else throws, naming the line.
 */

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface HistogramSample {
  labels: Record<string, string>;
  /** upper bound as printed ("+Inf" included) -> cumulative count */
  buckets: Record<string, number>;
  count: number;
  sum: number;
}

export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
  histograms: HistogramSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const VALUE = /^([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]Inf|NaN)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

class Line {
  pos = 0;
  constructor(
    readonly text: string,
    readonly number: number,
  ) {}
  fail(message: string): never {
    throw new Error(`exposition line ${this.number}: ${message}: ${JSON.stringify(this.text)}`);
  }
  blanks(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++;
  }
  take(pattern: RegExp, what: string): string {
    const match = pattern.exec(this.text.slice(this.pos));
    if (match === null) this.fail(`expected ${what}`);
    this.pos += match[0].length;
    return match[0];
  }
  rest(): string {
    return this.text.slice(this.pos);
  }
}

function parseNumber(text: string, line: Line): number {
  if (!VALUE.test(text)) line.fail(`not a number: ${JSON.stringify(text)}`);
  return text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
}

function parseLabels(line: Line): Record<string, string> {
  const labels: Record<string, string> = {};
  line.blanks();
  if (line.text[line.pos] !== '{') return labels;
  line.pos++;
  for (;;) {
    line.blanks();
    if (line.text[line.pos] === '}') break;
    const name = line.take(LABEL_NAME, 'a label name');
    if (name in labels) line.fail(`label ${name} twice`);
    line.blanks();
    if (line.text[line.pos++] !== '=') line.fail('expected =');
    line.blanks();
    if (line.text[line.pos++] !== '"') line.fail('expected a quoted label value');
    let value = '';
    for (;;) {
      const c = line.text[line.pos++];
      if (c === undefined) line.fail('unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const escaped = line.text[line.pos++];
        if (escaped === 'n') value += '\n';
        else if (escaped === '\\' || escaped === '"') value += escaped;
        else line.fail(`bad escape \\${escaped ?? ''}`);
      } else value += c;
    }
    labels[name] = value;
    line.blanks();
    if (line.text[line.pos] === ',') line.pos++;
    else if (line.text[line.pos] !== '}') line.fail('expected , or }');
  }
  line.pos++;
  return labels;
}

function unescapeHelp(text: string, line: Line): string {
  return text.replace(/\\(.)?/g, (_m, c: string | undefined) => (c === 'n' ? '\n' : c === '\\' ? '\\' : line.fail(`bad escape in HELP`)));
}

interface Pending {
  family: Family;
  /** label set (without le) -> histogram under construction */
  histograms: Map<string, { labels: Record<string, string>; buckets: Record<string, number>; count?: number; sum?: number }>;
  seen: Set<string>;
}

function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function finish(pending: Pending, families: Map<string, Family>): void {
  const { family } = pending;
  for (const h of pending.histograms.values()) {
    const bounds = Object.keys(h.buckets).sort((a, b) => parseFloatBound(a) - parseFloatBound(b));
    if (bounds[bounds.length - 1] !== '+Inf') throw new Error(`${family.name}: histogram without a +Inf bucket`);
    if (h.count === undefined || h.sum === undefined) throw new Error(`${family.name}: histogram without _count or _sum`);
    let previous = 0;
    for (const bound of bounds) {
      const value = h.buckets[bound] as number;
      if (value < previous) throw new Error(`${family.name}: buckets not cumulative at le=${bound}`);
      previous = value;
    }
    if (h.buckets['+Inf'] !== h.count) throw new Error(`${family.name}: +Inf bucket ${h.buckets['+Inf']} != _count ${h.count}`);
    family.histograms.push({ labels: h.labels, buckets: h.buckets, count: h.count, sum: h.sum });
  }
  families.set(family.name, family);
}

function parseFloatBound(text: string): number {
  return text === '+Inf' ? Infinity : Number(text);
}

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Pending | null = null;
  const open = (name: string, line: Line): Pending => {
    if (current !== null && current.family.name === name) return current;
    if (families.has(name)) line.fail(`family ${name} is not contiguous`);
    if (current !== null) finish(current, families);
    current = { family: { name, help: '', type: 'untyped', samples: [], histograms: [] }, histograms: new Map(), seen: new Set() };
    return current;
  };
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('exposition does not end with a newline');
  lines.pop();
  lines.forEach((raw, index) => {
    const line: Line = new Line(raw, index + 1);
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const meta = /^#[ \t]+(HELP|TYPE)[ \t]+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:[ \t]+(.*))?$/.exec(raw);
      if (meta === null) return; // a plain comment
      const [, kind, name = '', rest = ''] = meta;
      const pending = open(name, line);
      if (pending.family.samples.length > 0 || pending.histograms.size > 0) line.fail(`${kind} after samples`);
      if (kind === 'HELP') {
        if (pending.seen.has('#HELP')) line.fail('second HELP');
        pending.seen.add('#HELP');
        pending.family.help = unescapeHelp(rest, line);
      } else {
        if (pending.seen.has('#TYPE')) line.fail('second TYPE');
        if (!TYPES.has(rest.trim())) line.fail(`unknown type ${rest}`);
        pending.seen.add('#TYPE');
        pending.family.type = rest.trim() as Family['type'];
      }
      return;
    }
    const sampleName = line.take(NAME, 'a metric name');
    const labels = parseLabels(line);
    line.blanks();
    const tokens = line
      .rest()
      .trim()
      .split(/[ \t]+/);
    if (tokens.length !== 1) line.fail('expected one value and no timestamp');
    const value = parseNumber(tokens[0] as string, line);
    const c: Pending | null = current;
    const histogramBase = /^(.*)_(bucket|sum|count)$/.exec(sampleName);
    if (c !== null && c.family.type === 'histogram' && histogramBase !== null && histogramBase[1] === c.family.name) {
      const suffix = histogramBase[2];
      const { le, ...rest } = labels;
      const key = labelKey(rest);
      const h = c.histograms.get(key) ?? { labels: rest, buckets: {} };
      c.histograms.set(key, h);
      if (suffix === 'bucket') {
        if (le === undefined) line.fail('bucket without le');
        if (le !== '+Inf') parseNumber(le, line);
        if (le in h.buckets) line.fail(`bucket le=${le} twice`);
        h.buckets[le] = value;
      } else {
        if (le !== undefined) line.fail(`le on _${suffix}`);
        if ((suffix === 'sum' ? h.sum : h.count) !== undefined) line.fail(`_${suffix} twice`);
        if (suffix === 'sum') h.sum = value;
        else h.count = value;
      }
      return;
    }
    const pending = open(sampleName, line);
    if (pending.family.type === 'histogram') line.fail('a histogram sample without _bucket, _sum or _count');
    const key = labelKey(labels);
    if (pending.seen.has(key)) line.fail('the same sample twice');
    pending.seen.add(key);
    pending.family.samples.push({ labels, value });
  });
  if (current !== null) finish(current, families);
  return families;
}

/** The one sample of `name` whose labels include `labels`; throws when there is not exactly one. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (family === undefined) throw new Error(`no metric ${name}`);
  const matching = family.samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matching.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${matching.length} samples`);
  return (matching[0] as Sample).value;
}
