/**
 * Page deltas: a changed page stored as the XOR of its new and previous versions. PostgreSQL
 * changes a page a few bytes at a time (a tuple's xmax and hint bits, one new tuple, the header's
 * LSN and checksum), so the XOR is mostly zeros and compresses to a small fraction of the page:
 * an incremental after random updates stores what changed in the pages, not the pages. Pure.
 */

/**
 * A delta is kept only when at most this share of its bytes is non-zero: a page rewritten
 * throughout (pruned and compacted, reused for other rows) compresses better as itself.
 */
export const DELTA_NONZERO_SHARE_MAX = 0.5;

/**
 * out = a XOR b (all three the same length). 64 bits at a time when the three are 8-byte aligned
 * (BigInt64Array: V8 compiles the loop to plain 64-bit XORs, about 1.5 times the 32-bit loop's
 * speed; a restore of an incremental rebuilds every delta page with it), else 32, else 8.
 */
export function xorBytes(a: Uint8Array, b: Uint8Array, out: Uint8Array): void {
  const length = out.length;
  if (a.length !== length || b.length !== length) throw new Error(`xorBytes: lengths ${a.length}, ${b.length}, ${length} differ`);
  if (length % 8 === 0 && a.byteOffset % 8 === 0 && b.byteOffset % 8 === 0 && out.byteOffset % 8 === 0) {
    const a64 = new BigInt64Array(a.buffer, a.byteOffset, length / 8);
    const b64 = new BigInt64Array(b.buffer, b.byteOffset, length / 8);
    const out64 = new BigInt64Array(out.buffer, out.byteOffset, length / 8);
    for (let i = 0; i < out64.length; i++) out64[i] = (a64[i] as bigint) ^ (b64[i] as bigint);
    return;
  }
  if (length % 4 === 0 && a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0 && out.byteOffset % 4 === 0) {
    const a32 = new Int32Array(a.buffer, a.byteOffset, length / 4);
    const b32 = new Int32Array(b.buffer, b.byteOffset, length / 4);
    const out32 = new Int32Array(out.buffer, out.byteOffset, length / 4);
    for (let i = 0; i < out32.length; i++) out32[i] = (a32[i] as number) ^ (b32[i] as number);
    return;
  }
  for (let i = 0; i < length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
}

/**
 * Whether a XOR of two page versions is worth storing instead of the page (few enough non-zero
 * bytes). 32 bits at a time when the buffer allows (a XOR is mostly zero words, each skipped in
 * one test: 3 µs a page against 12 µs byte by byte, and an incremental backup tests every changed
 * page), else byte by byte.
 */
export function deltaWorthIt(xor: Uint8Array): boolean {
  const nonZeroMax = Math.floor(xor.length * DELTA_NONZERO_SHARE_MAX);
  let nonZero = 0;
  if (xor.length % 4 === 0 && xor.byteOffset % 4 === 0) {
    const words = new Int32Array(xor.buffer, xor.byteOffset, xor.length / 4);
    for (let i = 0; i < words.length; i++) {
      const word = words[i] as number;
      if (word === 0) continue;
      nonZero += (word & 0xff ? 1 : 0) + (word & 0xff00 ? 1 : 0) + (word & 0xff0000 ? 1 : 0) + (word & 0xff000000 ? 1 : 0);
      if (nonZero > nonZeroMax) return false;
    }
    return true;
  }
  for (let i = 0; i < xor.length; i++) {
    if (xor[i] !== 0 && ++nonZero > nonZeroMax) return false;
  }
  return true;
}
