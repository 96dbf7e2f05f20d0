/**
 * The simulator's event queue: events ordered by virtual time, then by insertion, so a seed
 * replays exactly. An event that may resume agent code is marked `agent`: after it the runner
 * lets every pending promise continuation run (those are the agents' async functions) before the
 * next event, so agent code always runs at the virtual instant its I/O completed.
 */
export class EventQueue {
    heap = [];
    seq = 0;
    push(atMs, run, agent) {
        const e = { atMs, seq: this.seq++, agent, run };
        const h = this.heap;
        h.push(e);
        let i = h.length - 1;
        while (i > 0) {
            const p = (i - 1) >> 1;
            const parent = h[p];
            if (parent.atMs < e.atMs || (parent.atMs === e.atMs && parent.seq < e.seq))
                break;
            h[i] = parent;
            i = p;
        }
        h[i] = e;
    }
    pop() {
        const h = this.heap;
        const top = h[0];
        const last = h.pop();
        if (top === undefined || last === undefined || h.length === 0)
            return top;
        let i = 0;
        for (;;) {
            const l = 2 * i + 1;
            const r = l + 1;
            let m = i;
            let best = last;
            const le = h[l];
            if (le !== undefined && (le.atMs < best.atMs || (le.atMs === best.atMs && le.seq < best.seq))) {
                m = l;
                best = le;
            }
            const re = h[r];
            if (re !== undefined && (re.atMs < best.atMs || (re.atMs === best.atMs && re.seq < best.seq))) {
                m = r;
                best = re;
            }
            if (m === i)
                break;
            h[i] = best;
            i = m;
        }
        h[i] = last;
        return top;
    }
    peekAtMs() {
        return this.heap[0]?.atMs;
    }
}
/** Lets every queued promise continuation run (setImmediate fires after the microtask queue is empty). */
export function settleMicrotasks() {
    return new Promise((resolve) => setImmediate(resolve));
}
//# sourceMappingURL=events.js.map