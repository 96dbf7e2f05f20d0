/**
 * The layering of src/, checked by `npm test` (test/unit/layering.test.ts runs depcruise).
 * Lowest to highest: the pure cores (src/ha/core), config, the engine (loop, lease, tasks, etcd
 * client, watchdog device), the adapters (postgres, dcs, patroni compatibility), the HA shell
 * (src/ha, which reaches the world only through ports), the REST API, the sandbox, the CLI.
 * A lower layer never imports a higher one; the pure core imports nothing but pure code.
 */
module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'the pure HA core imports no node:* module, no package and nothing from the shell (DESIGN.md, principle 1)',
      severity: 'error',
      from: { path: '^src/ha/core/' },
      to: { pathNot: '^src/ha/core/|^src/config/types\\.ts$|^src/dcs/types\\.ts$' },
    },
    {
      name: 'galera-core-is-pure',
      comment: 'the Galera recovery planner imports no node:* module, no package and nothing impure: it is tested as a pure function',
      severity: 'error',
      from: { path: '^src/galera/core/' },
      to: { pathNot: '^src/galera/core/' },
    },
    {
      name: 'shell-uses-ports',
      comment: 'the HA shell reaches the outside world only through its ports, so the simulator runs it as it ships; the real adapters are wired in src/ha/real-ports.ts alone',
      severity: 'error',
      from: { path: '^src/ha/', pathNot: '^src/ha/(core/|real-ports\\.ts$)' },
      to: {
        path: '^src/(postgres/(instance|local-node|remote|run|os-user|slots)|dcs/etcd-dcs|engine/etcd/|engine/watchdog-device|api/(server|peer-client))|^node_modules/pg/|^(node:)?(fs|net|http|https|child_process|dgram|worker_threads)(/|$)',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'haproxy-text-is-pure',
      comment: 'the HAProxy config renderer and runtime-API command builder are pure functions (golden-tested): no node:* module, no package',
      severity: 'error',
      from: { path: '^src/haproxy/(config-render|galera-config-render|runtime-commands)\\.ts$' },
      to: { pathNot: '^src/(haproxy/(config-render|galera-config-render|runtime-commands)\\.ts|errors\\.ts|dcs/types\\.ts|ha/core/)' },
    },
    {
      name: 'haproxy-below-the-shell',
      comment: 'HAProxy text and runtime client serve the CLI, the sandbox and the agent (through its RoutingPort); they know none of them',
      severity: 'error',
      from: { path: '^src/haproxy/' },
      to: { path: '^src/(ha/(?!core/)|api|cli|sandbox|engine)' },
    },
    {
      name: 'engine-below-agents',
      comment: 'the engine is shared by every agent (PostgreSQL, Galera): it knows none of them',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/(ha|api|cli|sandbox|postgres|dcs|patroni|galera)/' },
    },
    {
      name: 'config-below-everything',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/(ha|engine|api|cli|sandbox|postgres|dcs|patroni|backup|galera)/' },
    },
    {
      name: 'backup-core-is-pure',
      comment: 'backup selection, retention, labels, manifest rules: no node:* module, no package, nothing from the shell (DESIGN.md, principle 1)',
      severity: 'error',
      from: { path: '^src/backup/core/' },
      to: { pathNot: '^src/backup/core/' },
    },
    {
      name: 'backup-below-the-cli',
      comment: 'the backup pillar stands on config and postgres; it knows no HA agent, DCS, API or CLI',
      severity: 'error',
      from: { path: '^src/backup/' },
      to: { path: '^src/(ha|engine|api|cli|sandbox|dcs|patroni)/' },
    },
    {
      name: 'adapters-below-the-shell',
      comment: 'PostgreSQL, DCS and Patroni-compatibility modules may use the pure core, never the shell above them',
      severity: 'error',
      from: { path: '^src/(postgres|dcs|patroni)/' },
      to: { path: '^src/(ha/(?!core/)|api|cli|sandbox)' },
    },
    {
      name: 'api-below-the-agent',
      comment: 'the REST API renders what the agent hands it; it does not reach into the agent',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/(ha|cli|sandbox)/' },
    },
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'sandbox-only-under-the-cli',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|sandbox)/' },
      to: { path: '^src/sandbox/' },
    },
    {
      name: 'no-circular',
      comment: 'no import cycle (type-only imports do not count: they vanish at run time)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: require('node:path').join(__dirname, 'tsconfig.json') },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
