/**
 * The golden rule files (test/unit/ha/golden/*.txt), in the style of etcd raft's datadriven
 * testdata: parsing and rewriting a file, building the Observation a case describes, and rendering
 * what decide() makes of it. Pure: no I/O (golden.test.ts reads and writes the files).
 *
 * A file is blocks separated by blank lines. A block of `#` lines only is a free comment. A case:
 *
 *   # what the case shows (one line or more; required)
 *   decide [gates=true,false]
 *   <YAML mapping: overrides of the base observation; no blank line inside>
 *   ----
 *   <expected output, written by KEEL_REWRITE_GOLDEN=1>
 *
 * `gates=`: outcomes of the gates the plan reaches, in order; a gate not listed succeeds, an
 * outcome left over (more than the gates reached) is an error.
 *
 * Input: the base is test/unit/ha/fixtures.ts `obs()` (n2, a streaming replica of n1 at t=100 s,
 * lease confirmed at 99 s, ttl 30 s, loop_wait 10 s, retry_timeout 10 s; members n1 primary, n2,
 * n3; status optime 1000), or `leaderObs()` when self is n1. Keys are those of Observation,
 * merged one level into each section (`postgres: {running: false}` keeps the other postgres
 * fields); values below that level replace. Shortcuts:
 *   self: n1                 the name alone (`self: {name: n1, tags: {...}}` also merges tags);
 *                            n1 starts from leaderObs(), another name from obs() with lease-<name>
 *   view: {...}              merged into the DCS view (dcs.ok = true);
 *     leader: n3             the leader key as a name (lease-n3, modRevision 5); null: no key;
 *                            a mapping ({leaseId: lease-old}) merges onto the base key
 *     members: [{name, ...}] the whole member list, each merged onto the base member of that
 *                            name, or fixtures' member(name) for another name
 *     history: [{timeline, lsn, reason, newLeader}]   the history lines (modRevision 1)
 *   dcs: {ok: false, sinceMs} the DCS read failed (no `view` then)
 *   peers: [{name, ...}]     each merged onto fixtures' peer(name)
 *   (asyncTask.running is {kind}; asyncTask.lastResult and lastRewind are {kind, ok, message, target?, retryable?})
 *   Byte positions accept a number or an LSN ("0/5000000").
 * Unknown keys and wrong types are errors naming the key (a typo must never test the base).
 *
 * Output: the whole plan (both branches of every gate, each branch headed by its why kind; action
 * parameters as key=value, a member's address as its name unless host/port differ from name/5432,
 * history lines as timeline@LSN by member (reason), without the timestamp), then
 *   taken: the gates resolvePlan passes for the outcomes, and which branch each took
 *   why:   kind and sentence (renderWhy) of the deepest plan taken
 *   guard: the lease guard (fenceAfterSentMs, or disarmed) and gateValidForMs (and wakeInMs when the decision asks for an early cycle)
 * or `error: <message>` when decide throws (a broken plan contract).
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { ClusterView, HistoryEntry, LeaderKey, Member } from '../../../src/dcs/types.js';
import { decide, resolvePlan } from '../../../src/ha/core/decide.js';
import { isGate } from '../../../src/ha/core/plan.js';
import { formatLsn, parseLsn } from '../../../src/ha/core/lsn.js';
import { renderWhy } from '../../../src/ha/core/why.js';
import type { Action, Decision, MemberAddress, Observation, Plan } from '../../../src/ha/core/types.js';
import { leaderObs, member, obs, peer } from './fixtures.js';

// ---------------------------------------------------------------------------------------------
// The file: blocks, cases, rewriting
// ---------------------------------------------------------------------------------------------

const SEPARATOR = '----';

export interface GoldenCase {
  kind: 'case';
  /** "leader.txt:12", the line of the command. */
  where: string;
  comments: string[];
  command: string;
  input: string[];
  expected: string[];
}

export type GoldenBlock = GoldenCase | { kind: 'comment'; lines: string[] };

class GoldenFormatError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'GoldenFormatError';
  }
}

/** Splits a file into blocks of consecutive non-blank lines, with the line number of each block's first line. */
function paragraphs(text: string): Array<{ first: number; lines: string[] }> {
  const result: Array<{ first: number; lines: string[] }> = [];
  let current: { first: number; lines: string[] } | null = null;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (line === '') {
      current = null;
      return;
    }
    if (current === null) {
      current = { first: index + 1, lines: [] };
      result.push(current);
    }
    current.lines.push(line);
  });
  return result;
}

function parseBlock(fileName: string, first: number, lines: string[]): GoldenBlock {
  const commandIndex = lines.findIndex((line) => !line.startsWith('#'));
  if (commandIndex === -1) return { kind: 'comment', lines };
  const where = `${fileName}:${first + commandIndex}`;
  if (commandIndex === 0) throw new GoldenFormatError(where, 'a case starts with a # line saying what it shows');
  const comments = lines.slice(0, commandIndex);
  const body = lines.slice(commandIndex);
  const split = body.indexOf(SEPARATOR);
  if (split === -1) throw new GoldenFormatError(where, `a case needs a ${SEPARATOR} line between input and expected output`);
  return { kind: 'case', where, comments, command: body[0] ?? '', input: body.slice(1, split), expected: body.slice(split + 1) };
}

export function parseGoldenFile(fileName: string, text: string): GoldenBlock[] {
  return paragraphs(text).map((p) => parseBlock(fileName, p.first, p.lines));
}

/** The file text again, each case's expected block replaced by `output(case)`. */
export function printGoldenFile(blocks: GoldenBlock[], output: (c: GoldenCase) => string[]): string {
  const printed = blocks.map((block) =>
    block.kind === 'comment' ? block.lines : [...block.comments, block.command, ...block.input, SEPARATOR, ...output(block)],
  );
  return `${printed.map((lines) => lines.join('\n')).join('\n\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// The input: a YAML mapping validated by zod, then merged onto the base observation
// ---------------------------------------------------------------------------------------------

/** Every key of T must appear (and no other): the schemas stay in step with the core's types. */
type ShapeOf<T> = Record<keyof T, z.ZodTypeAny>;

const num = z.number();
const str = z.string();
const bool = z.boolean();
const bytes = z.union([
  num,
  z
    .string()
    .regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, 'a byte count or an LSN like 0/5000000')
    .transform(parseLsn),
]);
const pgRole = z.enum(['primary', 'replica']);
const taskKind = z.enum(['bootstrap', 'clone', 'rewind', 'reinit', 'start', 'stop', 'promote', 'demote', 'checkpoint', 'stepdown']);

const tagsIn = z
  .object({
    nofailover: bool,
    noloadbalance: bool,
    clonefrom: bool,
    nosync: bool,
    nostream: bool,
    replicatefrom: str,
    failoverPriority: num,
    raw: z.record(z.unknown()),
  } satisfies ShapeOf<Observation['self']['tags']>)
  .partial()
  .strict();

const selfIn = z
  .object({
    name: str,
    tags: tagsIn,
    watchdogMode: z.enum(['off', 'automatic', 'required']),
    watchdogSafetyMarginMs: num,
    removeDataDirectoryOnRewindFailure: bool,
    removeDataDirectoryOnDivergedTimelines: bool,
    canBootstrap: bool,
    apiUrl: str,
  } satisfies ShapeOf<Observation['self']>)
  .partial()
  .strict();

const configIn = z
  .object({
    ttlMs: num,
    loopWaitMs: num,
    retryTimeoutMs: num,
    maximumLagOnFailoverBytes: num,
    maximumLagOnSyncnodeBytes: num,
    primaryStartTimeoutMs: num,
    primaryStopTimeoutMs: num,
    checkTimeline: bool,
    synchronousMode: z.enum(['off', 'on', 'quorum']),
    synchronousModeStrict: bool,
    synchronousNodeCount: num,
    failsafeMode: bool,
    maxTimelinesHistory: num,
    pause: bool,
    usePgRewind: bool,
    useSlots: bool,
    permanentSlots: z.array(z.object({ name: str, type: z.enum(['physical', 'logical']), database: str.optional(), plugin: str.optional() }).strict()),
    ignoreSlots: z.array(z.object({ name: str, type: str, database: str, plugin: str }).partial().strict()),
    parameters: z.record(z.union([str, num, bool])),
    pgHba: z.array(str),
    recoveryConf: z.record(z.union([str, num, bool])),
    raw: z.record(z.unknown()),
  } satisfies ShapeOf<Observation['config']>)
  .partial()
  .strict();

const memberIn = z
  .object({
    name: str,
    modRevision: num,
    leaseId: str.nullable(),
    connUrl: str.nullable(),
    apiUrl: str.nullable(),
    state: str,
    role: str,
    xlogLocation: bytes.nullable(),
    receiveLsn: bytes.nullable(),
    replayLsn: bytes.nullable(),
    replicationState: str.nullable(),
    timeline: num.nullable(),
    tags: z.record(z.unknown()),
    data: z.record(z.unknown()),
  } satisfies ShapeOf<Member>)
  .partial()
  .extend({ name: str })
  .strict();

const leaderIn = z.union([
  str,
  z
    .object({ name: str, modRevision: num, leaseId: str.nullable() } satisfies ShapeOf<LeaderKey>)
    .partial()
    .strict(),
]);

const historyEntryIn = z
  .object({
    timeline: num,
    lsn: bytes,
    reason: str,
    timestamp: str.optional(),
    newLeader: str.optional(),
  } satisfies ShapeOf<HistoryEntry>)
  .strict();

const versioned = <T extends z.ZodTypeAny>(value: T) => z.object({ value, modRevision: num }).strict();

const viewIn = z
  .object({
    revision: num,
    initialize: str.nullable(),
    config: versioned(z.record(z.unknown())).nullable(),
    leader: leaderIn.nullable(),
    members: z.array(memberIn),
    failover: versioned(z.object({ leader: str, candidate: str, scheduledAt: str }).partial().strict()).nullable(),
    sync: versioned(z.object({ leader: str.nullable(), syncStandbys: z.array(str), quorum: num.default(0) }).strict()).nullable(),
    history: z.array(historyEntryIn).nullable(),
    status: z
      .object({ optime: bytes.nullable(), slots: z.record(num).default({}) })
      .strict()
      .nullable(),
    failsafe: z.record(str).nullable(),
  } satisfies ShapeOf<ClusterView>)
  .partial()
  .strict();

const divergenceIn = z.discriminatedUnion('verdict', [
  z.object({ verdict: z.literal('notChecked') }).strict(),
  z.object({ verdict: z.literal('safe') }).strict(),
  z.object({ verdict: z.literal('diverged'), leaderCheckpointed: bool.nullable() }).strict(),
  z.object({ verdict: z.literal('unknown'), cause: str, sinceMs: num, leaderUnreachable: z.boolean().optional() }).strict(),
]);

const postgresIn = z
  .object({
    dataDir: z.enum(['missing', 'empty', 'initialized']),
    systemIdentifier: str.nullable(),
    running: bool,
    starting: bool,
    role: pgRole.nullable(),
    timeline: num.nullable(),
    walPositionBytes: bytes.nullable(),
    followTarget: str.nullable(),
    streaming: bool,
    fenced: bool,
    syncStandbyNames: str.nullable(),
    syncAppliedAtLsn: bytes.nullable(),
    standbys: z.array(z.object({ name: str, state: str, syncState: str, flushLsnBytes: bytes.nullable() }).strict()),
    physicalSlots: z.array(z.object({ name: str, active: bool }).strict()).nullable(),
    crashedSinceMs: num.nullable(),
    rewindCapable: bool,
    divergence: divergenceIn,
    notStreamingSinceMs: num.nullable(),
    receiverError: str.nullable(),
    timelineStart: z.object({ endedTimeline: num, switchLsn: bytes, reason: str }).strict().nullable(),
    checkpointTimeline: num.nullable(),
    timelineOrigin: z.object({ timeline: num, member: str }).strict().nullable(),
  } satisfies ShapeOf<Observation['postgres']>)
  .partial()
  .strict();

const taskResultIn = z
  .object({
    kind: taskKind,
    ok: bool,
    message: str,
    target: str.optional(),
    retryable: bool.optional(),
  })
  .strict()
  .nullable();

const asyncTaskIn = z
  .object({
    running: z.object({ kind: taskKind }).strict().nullable(),
    lastResult: taskResultIn,
    lastRewind: taskResultIn,
  } satisfies ShapeOf<Observation['asyncTask']>)
  .partial()
  .strict();

const peerIn = z
  .object({
    name: str,
    reachable: bool,
    running: bool,
    role: pgRole.nullable(),
    walPositionBytes: bytes.nullable(),
    timeline: num.nullable(),
    nofailover: bool,
    failoverPriority: num.optional(),
    watchdogFailed: bool,
    streaming: bool.nullable(),
  } satisfies ShapeOf<NonNullable<Observation['peers']>[number]>)
  .partial()
  .extend({ name: str })
  .strict();

const inputSchema = z
  .object({
    nowMs: num,
    agentStartedMs: num,
    wallTimeIso: str,
    self: z.union([str, selfIn]),
    config: configIn,
    paused: bool,
    dcs: z.object({ ok: z.literal(false), sinceMs: num }).strict(),
    view: viewIn,
    lease: z.object({ leaseId: str.nullable(), lastConfirmedSentMs: num.nullable(), failsafeConfirmedSentMs: num.nullable() }).partial().strict(),
    postgres: postgresIn,
    asyncTask: asyncTaskIn,
    peers: z.array(peerIn).nullable(),
    watchdog: z.object({ available: bool, armed: bool }).partial().strict(),
    failsafeLeader: z.object({ name: str, connUrl: str.nullable(), heardAtMs: num }).strict().nullable(),
  } satisfies ShapeOf<Observation> & { view: z.ZodTypeAny })
  .partial()
  .strict();

type Input = z.infer<typeof inputSchema>;
type ViewInput = z.infer<typeof viewIn>;

function parseInput(where: string, lines: string[]): Input {
  let doc: unknown;
  try {
    doc = parseYaml(lines.join('\n'));
  } catch (error) {
    throw new GoldenFormatError(where, `input: ${error instanceof Error ? error.message : String(error)}`);
  }
  const result = inputSchema.safeParse(doc ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
  throw new GoldenFormatError(where, `input: ${issues.join('; ')}`);
}

/** `over` when given (null included), else `base`. */
function given<T>(over: T | undefined, base: T): T {
  return over === undefined ? base : over;
}

/** The leader key of member `name` as the fixtures write it. */
function keyOf(name: string): LeaderKey {
  return { name, modRevision: 5, leaseId: `lease-${name}` };
}

function leaderKey(base: LeaderKey | null, over: ViewInput['leader']): LeaderKey | null {
  if (over === undefined || over === null) return given(over, base);
  if (typeof over === 'string') return keyOf(over);
  return { ...(base ?? keyOf('n1')), ...over };
}

function buildView(base: ClusterView, over: ViewInput): ClusterView {
  const { leader, members, history, ...rest } = over;
  return {
    ...base,
    ...rest,
    leader: leaderKey(base.leader, leader),
    members: members === undefined ? base.members : members.map((m) => ({ ...(base.members.find((b) => b.name === m.name) ?? member(m.name)), ...m })),
    history: history === undefined ? base.history : history === null ? null : { value: history, modRevision: 1 },
  };
}

function buildDcs(where: string, base: Observation, input: Input): Observation['dcs'] {
  if (input.dcs !== undefined && input.view !== undefined) throw new GoldenFormatError(where, 'input: give `view` or `dcs: {ok: false}`, not both');
  if (input.dcs !== undefined) return input.dcs;
  if (!base.dcs.ok) throw new GoldenFormatError(where, 'base observation has no view');
  return { ok: true, view: input.view === undefined ? base.dcs.view : buildView(base.dcs.view, input.view) };
}

function baseFor(name: string): Observation {
  if (name === 'n1') return leaderObs();
  return obs({ self: { name }, lease: { leaseId: `lease-${name}` } });
}

function buildObservation(where: string, input: Input): Observation {
  const selfOver = typeof input.self === 'string' ? { name: input.self } : (input.self ?? {});
  const base = baseFor(selfOver.name ?? 'n2');
  return {
    nowMs: given(input.nowMs, base.nowMs),
    agentStartedMs: given(input.agentStartedMs, base.agentStartedMs),
    wallTimeIso: given(input.wallTimeIso, base.wallTimeIso),
    self: { ...base.self, ...selfOver, tags: { ...base.self.tags, ...selfOver.tags } },
    config: { ...base.config, ...input.config },
    paused: given(input.paused, base.paused),
    dcs: buildDcs(where, base, input),
    lease: { ...base.lease, ...input.lease },
    postgres: { ...base.postgres, ...input.postgres },
    asyncTask: { ...base.asyncTask, ...input.asyncTask },
    peers: input.peers === undefined ? base.peers : input.peers === null ? null : input.peers.map((p) => peer(p.name, p)),
    watchdog: { ...base.watchdog, ...input.watchdog },
    failsafeLeader: given(input.failsafeLeader, base.failsafeLeader),
  };
}

// ---------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------

/** Outcomes appended after those of `gates=` (all succeed): more gates than any path of a plan passes. */
const GATES_MAX = 8;

function parseCommand(where: string, command: string): boolean[] {
  const [verb, ...args] = command.split(/\s+/);
  if (verb !== 'decide') throw new GoldenFormatError(where, `unknown command '${verb ?? ''}' (expected: decide [gates=true,false])`);
  let gates: boolean[] = [];
  for (const arg of args) {
    const match = /^gates=((?:true|false)(?:,(?:true|false))*)$/.exec(arg);
    if (match === null) throw new GoldenFormatError(where, `unknown argument '${arg}' (expected gates=true,false,...)`);
    gates = (match[1] ?? '').split(',').map((word) => word === 'true');
  }
  return gates;
}

// ---------------------------------------------------------------------------------------------
// The output
// ---------------------------------------------------------------------------------------------

/** A member's address: its name alone when the host is the name and the port 5432. */
function address(a: MemberAddress | null): string {
  if (a === null) return 'none';
  return a.host === a.name && a.port === 5432 ? a.name : `${a.name}@${a.host}:${a.port}`;
}

function historyLine(entry: HistoryEntry): string {
  const by = entry.newLeader === undefined ? '' : ` by ${entry.newLeader}`;
  return `${entry.timeline}@${formatLsn(entry.lsn)}${by} (${entry.reason})`;
}

/** failsafe topology: names alone when every api_url is the fixtures' http://<name>:8008/patroni. */
function topology(members: Record<string, string>): string {
  const names = Object.keys(members).sort();
  const plain = names.every((name) => members[name] === `http://${name}:8008/patroni`);
  return `[${names.map((name) => (plain ? name : `${name}=${members[name] ?? ''}`)).join(',')}]`;
}

function renderAction(action: Action): string {
  switch (action.kind) {
    case 'writeInitialize':
      return `writeInitialize sysid=${action.systemIdentifier} create=${action.create}`;
    case 'cloneFrom':
      return `cloneFrom source=${address(action.source)} follow=${address(action.follow)}`;
    case 'startAsReplica':
      return `startAsReplica follow=${address(action.follow)}`;
    case 'followLeader':
      return `followLeader member=${address(action.member)}`;
    case 'rewind':
      return `rewind from=${address(action.from)} follow=${address(action.follow)}`;
    case 'reclone':
      return `reclone from=${address(action.from)} follow=${address(action.follow)}`;
    case 'recordTimelineOrigin':
      return `recordTimelineOrigin timeline=${action.timeline} member=${action.member}`;
    case 'writeHistory':
      return `writeHistory entries=[${action.entries.map(historyLine).join(', ')}]`;
    case 'writeStatus':
      return `writeStatus optime=${action.optimeBytes}`;
    case 'deleteFailoverKey':
      return `deleteFailoverKey modRevision=${action.modRevision}`;
    case 'stepDown':
      return `stepDown failoverRevision=${action.failoverRevision}`;
    case 'writeFailsafe':
      return `writeFailsafe members=${topology(action.members)}`;
    case 'syncSlots':
      return `syncSlots slots=[${action.slots.join(',')}]${action.ignore === undefined ? '' : ` ignore=${JSON.stringify(action.ignore)}`}`;
    case 'setSyncStandbyNames':
      return `setSyncStandbyNames value=${action.value === null ? 'null' : JSON.stringify(action.value)}`;
    case 'writeSyncKey':
      return action.value === null
        ? `writeSyncKey delete modRevision=${String(action.modRevision)}`
        : `writeSyncKey leader=${action.value.leader ?? 'null'} standbys=[${action.value.syncStandbys.join(',')}] quorum=${action.value.quorum} modRevision=${String(action.modRevision)}`;
    case 'watchdog':
      return `watchdog op=${action.op}`;
    case 'exit':
      return `exit code=${action.code}`;
    // No parameters. Listed one by one so that a new action kind fails to compile until it is rendered.
    case 'claimInitialize':
    case 'acquireLeaderKey':
    case 'updateLeaderKey':
    case 'confirmFailsafe':
    case 'refreshLease':
    case 'touchMember':
    case 'runBootstrap':
    case 'writeBootstrapConfig':
    case 'cancelInitialization':
    case 'fence':
    case 'unfence':
    case 'stopPostgres':
    case 'promote':
    case 'demote':
    case 'restartCrashed':
    case 'releaseLeaderKey':
    case 'checkpoint':
      return action.kind;
  }
}

/** The plan as an indented tree: each gate followed by its `then` and `else` branches. */
function renderPlan(p: Plan, indent = ''): string[] {
  if (p.actions.length === 0) return [`${indent}(no action)`];
  return p.actions.flatMap((action) => {
    if (!isGate(action)) return [`${indent}${renderAction(action)}`];
    return [
      `${indent}${action.kind === 'writeSyncKey' ? renderAction(action) : action.kind}`,
      `${indent}  then (${action.then.why.kind}):`,
      ...renderPlan(action.then, `${indent}    `),
      `${indent}  else (${action.else.why.kind}):`,
      ...renderPlan(action.else, `${indent}    `),
    ];
  });
}

function renderDecision(where: string, d: Decision, gates: boolean[]): string[] {
  const outcomes = [...gates, ...Array<boolean>(GATES_MAX).fill(true)];
  const walk = resolvePlan(d, outcomes);
  const passed = walk.steps.filter(isGate);
  if (gates.length > passed.length) throw new GoldenFormatError(where, `gates= lists ${gates.length} outcomes but the plan passes ${passed.length} gate(s)`);
  const taken = passed.map((gate, i) => `${gate.kind} -> ${outcomes[i] === true ? 'then' : 'else'}`);
  const guard = d.leaseGuard === null ? 'disarmed' : `fenceAfterSentMs=${d.leaseGuard.fenceAfterSentMs}`;
  return [
    ...renderPlan(d),
    `taken: ${taken.length === 0 ? 'no gate' : taken.join(', ')}`,
    `why: ${walk.why.kind}: ${renderWhy(walk.why)}`,
    `guard: ${guard} gateValidForMs=${d.gateValidForMs}${d.wakeInMs === undefined ? '' : ` wakeInMs=${d.wakeInMs}`}`,
  ];
}

/** The output block of a case: what decide makes of its observation. Input mistakes throw GoldenFormatError. */
export function runCase(c: GoldenCase): string[] {
  const gates = parseCommand(c.where, c.command);
  const observation = buildObservation(c.where, parseInput(c.where, c.input));
  let decision: Decision;
  try {
    decision = decide(observation);
  } catch (error) {
    return [`error: ${error instanceof Error ? error.message : String(error)}`];
  }
  return renderDecision(c.where, decision, gates);
}
