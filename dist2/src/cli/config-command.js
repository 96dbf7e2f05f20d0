/**
 * `keel show-config` and `keel edit-config` — patronictl's verbs for the cluster-wide (dynamic)
 * configuration, the DCS `config` key.
 *
 * edit-config builds the new config from --replace, then --apply, then -s/-p (in patronictl's
 * order), or from $EDITOR when none is given; shows the diff (coloured on a terminal); asks
 * "Apply these changes?" unless --force; and writes with compare-and-swap on the mod_revision it
 * read, so a change made meanwhile is reported ("config changed concurrently") and nothing is
 * lost. Unlike patronictl it refuses, naming the key, a value of the wrong type and a key that is
 * not a dynamic setting, and it never waits for an answer that cannot come (no terminal, no
 * --force: an error).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { pyYamlDump } from '../patroni/pyyaml.js';
import { applySetPairs, ConfigEditInputError, configEditProblems, mergeConfigPatch, parseYamlMapping, pgParameterPair, sameConfig, } from '../patroni/config-edit.js';
import { unifiedDiffLines } from '../patroni/unified-diff.js';
import { closeTerminal, confirm, paint, stdinIsTerminal } from './terminal.js';
import { checkClusterName, loadLocalConfig, printOut, withDcs } from './cluster-session.js';
/** patronictl's format_config_for_editing: yaml.safe_dump(block style, width 200). */
export function formatConfig(data) {
    return pyYamlDump(data);
}
function readSource(file) {
    if (file === '-')
        return readFileSync(0, 'utf8');
    try {
        return readFileSync(file, 'utf8');
    }
    catch (error) {
        throw new KeelError('cli.unreadable_file', `cannot read ${file}: ${error.code ?? String(error)}`);
    }
}
/** The config after --replace, --apply and -s/-p; null when none was given (the editor decides). */
export function editedFromOptions(current, options) {
    let changed = null;
    if (options.replace !== undefined)
        changed = parseYamlMapping(readSource(options.replace), options.replace === '-' ? 'stdin' : options.replace);
    if (options.apply !== undefined)
        changed = mergeConfigPatch(changed ?? current, parseYamlMapping(readSource(options.apply), options.apply === '-' ? 'stdin' : options.apply));
    const pairs = [...options.set, ...options.pg.map(pgParameterPair)];
    if (pairs.length > 0)
        changed = applySetPairs(changed ?? current, pairs);
    return changed;
}
/** Opens $EDITOR (else `editor`, else `vi`) on the YAML and reads the result back. */
function editInEditor(before, scope) {
    const editor = process.env['EDITOR'] ?? process.env['VISUAL'] ?? 'editor';
    const dir = mkdtempSync(join(tmpdir(), `${scope}-config-`));
    const file = join(dir, 'config.yaml');
    try {
        writeFileSync(file, before, { mode: 0o600 });
        // through the shell, so EDITOR may carry options ("code -w")
        const result = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' });
        if (result.error !== undefined || result.status !== 0)
            throw new KeelError('cli.editor_failed', `editor "${editor}" exited with ${result.status ?? String(result.error)}; nothing changed`, {
                hint: 'set EDITOR to your editor, or use -s/-p/--apply',
            });
        return parseYamlMapping(readFileSync(file, 'utf8'), 'the edited configuration');
    }
    finally {
        rmSync(dir, { recursive: true, force: true });
    }
}
function colourDiffLine(line) {
    if (line.startsWith('+++') || line.startsWith('---'))
        return paint('bold', line);
    if (line.startsWith('@@'))
        return paint('cyan', line);
    if (line.startsWith('+'))
        return paint('green', line);
    if (line.startsWith('-'))
        return paint('red', line);
    return line;
}
async function confirmed(options) {
    if (options.force === true)
        return true;
    if (options.apply === '-' || options.replace === '-' || !stdinIsTerminal())
        throw new KeelError('cli.needs_force', 'cannot ask "Apply these changes?" without a terminal; nothing changed', {
            hint: 'add --force to apply without confirmation',
        });
    return confirm('Apply these changes?');
}
async function editConfig(program, cluster, options) {
    const local = loadLocalConfig(program);
    checkClusterName(local, cluster);
    await withDcs(local, async (dcs) => {
        const view = await dcs.loadCluster();
        if (view.config === null)
            throw new KeelError('cli.no_config_key', `cluster "${local.scope}" has no configuration in the DCS yet; nothing changed`);
        const current = view.config.value;
        const before = formatConfig(current);
        let after;
        try {
            after = editedFromOptions(current, options) ?? editInEditor(before, local.scope);
        }
        catch (error) {
            if (error instanceof ConfigEditInputError)
                throw new KeelError('cli.bad_setting', `${error.message}; nothing changed`, { exitCode: 2 });
            throw error;
        }
        if (sameConfig(current, after)) {
            if (options.quiet !== true)
                printOut('Not changed');
            return;
        }
        const problems = configEditProblems(current, after);
        if (problems.length > 0)
            throw new KeelError('cli.invalid_config', `refused: ${problems.join('; ')}; nothing changed`, { exitCode: 2 });
        if (options.quiet !== true)
            for (const line of unifiedDiffLines(before, formatConfig(after)))
                printOut(colourDiffLine(line));
        if (!(await confirmed(options))) {
            printOut('Not applied');
            return;
        }
        if (!(await dcs.setConfig(after, view.config.modRevision)))
            throw new KeelError('cli.config_conflict', 'config changed concurrently; nothing was written', { hint: 'run edit-config again on the current config' });
        printOut('Configuration changed');
    });
}
async function showConfig(program, cluster) {
    const local = loadLocalConfig(program);
    checkClusterName(local, cluster);
    const view = await withDcs(local, (dcs) => dcs.loadCluster());
    // patronictl echoes the YAML (which ends in a newline) with one more newline
    process.stdout.write(formatConfig(view.config?.value ?? {}) + '\n');
}
const collect = (value, previous) => [...previous, value];
export function registerConfigCommands(program) {
    program
        .command('show-config')
        .description('show the cluster-wide configuration (patronictl show-config)')
        .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
        .action(async (cluster) => showConfig(program, cluster));
    program
        .command('edit-config')
        .description('edit the cluster-wide configuration (patronictl edit-config)')
        .argument('[cluster]', 'the cluster (default: the scope of the configuration file)')
        .option('-s, --set <key=value>', 'set a setting (dotted path, YAML value; null removes it); repeatable', collect, [])
        .option('-p, --pg <name=value>', 'set a PostgreSQL parameter (postgresql.parameters.<name>); repeatable', collect, [])
        .option('--apply <file>', 'merge settings from a YAML file (- for stdin)')
        .option('--replace <file>', 'replace the configuration by a YAML file (- for stdin)')
        .option('--force', 'apply without asking')
        .option('-q, --quiet', 'do not show changes')
        .action(async (cluster, options) => {
        try {
            await editConfig(program, cluster, options);
        }
        finally {
            closeTerminal();
        }
    });
}
//# sourceMappingURL=config-command.js.map