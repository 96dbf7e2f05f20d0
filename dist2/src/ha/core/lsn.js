/** PostgreSQL WAL positions ("16/B374D848") as byte offsets, the unit Patroni publishes in DCS. */
export function parseLsn(text) {
    const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
    if (match === null)
        return 0;
    return parseInt(match[1] ?? '0', 16) * 0x1_0000_0000 + parseInt(match[2] ?? '0', 16);
}
export function formatLsn(bytes) {
    const high = Math.floor(bytes / 0x1_0000_0000);
    const low = bytes - high * 0x1_0000_0000;
    return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}
//# sourceMappingURL=lsn.js.map