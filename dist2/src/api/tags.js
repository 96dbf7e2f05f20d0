/**
 * Tags as the REST API shows and matches them (Patroni 3.0.2). Patroni keeps the configured
 * tags minus the false-valued nofailover, noloadbalance, clonefrom and nosync (Patroni.get_tags,
 * Python truthiness); `?tag_x=` filters and the noloadbalance rule read those, and the JSON
 * shows them plus nosync: true while sync is disabled (Ha.get_effective_tags). Pure.
 */
import { pyTruthy } from '../patroni/python-compat.js';
const DROPPED_WHEN_FALSE = new Set(['clonefrom', 'nofailover', 'noloadbalance', 'nosync']);
/** Tags as Patroni keeps them (Patroni.get_tags). */
export function publishedTags(status) {
    const result = {};
    for (const [key, value] of Object.entries(status.tags)) {
        if (!DROPPED_WHEN_FALSE.has(key) || pyTruthy(value))
            result[key] = value;
    }
    return result;
}
/** The tags shown in JSON (Ha.get_effective_tags): published tags plus a forced nosync. */
export function effectiveTags(status) {
    const tags = publishedTags(status);
    if (status.syncDisabled)
        tags['nosync'] = true;
    return tags;
}
//# sourceMappingURL=tags.js.map