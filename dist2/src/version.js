/** keel's version, published in member keys and the REST API (Patroni puts its own version there). */
export const KEEL_VERSION = '0.1.0';
//# sourceMappingURL=version.js.map