/**
 * Seeded PRNG for the simulator (sfc32 seeded through splitmix32): the only source of randomness in
 * a simulation, so a seed replays a schedule exactly. Never Math.random().
 */
function splitmix32(state) {
    let s = state >>> 0;
    return () => {
        s = (s + 0x9e3779b9) >>> 0;
        let z = s;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        return (z ^ (z >>> 16)) >>> 0;
    };
}
export class Prng {
    a;
    b;
    c;
    d;
    constructor(seed) {
        const mix = splitmix32(seed);
        this.a = mix();
        this.b = mix();
        this.c = mix();
        this.d = mix();
        for (let i = 0; i < 12; i++)
            this.next32();
    }
    next32() {
        const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
        this.d = (this.d + 1) >>> 0;
        this.a = this.b ^ (this.b >>> 9);
        this.b = (this.c + (this.c << 3)) >>> 0;
        this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
        this.c = (this.c + t) >>> 0;
        return t >>> 0;
    }
    /** Uniform in [0, 1). */
    float() {
        return this.next32() / 4294967296;
    }
    /** Uniform integer in [min, max] (inclusive). */
    int(min, max) {
        return min + Math.floor(this.float() * (max - min + 1));
    }
    chance(p) {
        return this.float() < p;
    }
    pick(items) {
        const item = items[this.int(0, items.length - 1)];
        if (item === undefined)
            throw new Error('pick from an empty list');
        return item;
    }
}
//# sourceMappingURL=prng.js.map