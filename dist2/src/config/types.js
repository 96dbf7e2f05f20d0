/**
 * The shapes keel works with after a patroni.yml has been loaded, validated and defaulted.
 *
 * Two kinds of configuration, as in Patroni:
 *  - LocalConfig: this node's file (patroni.yml) plus PATRONI_* / KEEL_* environment overrides.
 *  - DynamicConfig: the cluster-wide settings stored in the DCS `config` key, seeded once from
 *    `bootstrap.dcs` and changed later with `keel edit-config`.
 * Patroni's units (seconds, byte counts, "256MB" strings) are converted exactly once, in the
 * parser; every field here carries its unit in its name.
 */
export {};
//# sourceMappingURL=types.js.map