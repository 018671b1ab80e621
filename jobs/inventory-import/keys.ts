// Which (itemId, variant) keys the file has already shown, in a compact hash table: 12 bytes
// a slot (an 80-bit fingerprint and the newest order day so far), 24 MB for a million keys,
// instead of the keys themselves. It lets each batch be merged as soon as it is read:
// a key's first occurrence goes straight to the upsert, later ones wait for the end.
//
// Two different keys with the same 80-bit fingerprint (odds about 1e-12 for a million keys)
// would make the second look like a repeat; the repeats pass then still inserts it correctly
// unless it also existed before the import, in which case its quantity would add to the old.

export interface Seen {
  /** The key appeared earlier in the file. */
  repeat: boolean;
  /** This occurrence's order is newer than every earlier one: its title, price… win. */
  newer: boolean;
}

const FIRST: Seen = { repeat: false, newer: true };
const REPEAT_NEWER: Seen = { repeat: true, newer: true };
const REPEAT_OLDER: Seen = { repeat: true, newer: false };

export class KeyTracker {
  // 3 words a slot: fingerprint a, b (b odd, so never 0: 0 marks an empty slot), and
  // 16 more fingerprint bits above a 16-bit day stamp (days since 1970 + 2, 1 = unknown).
  private slots: Uint32Array;
  private mask: number;
  size = 0;

  /** Sized for the keys expected (from the export's size when known): growing copies the table. */
  constructor(expectedKeys = 0) {
    let slots = 1 << 16;
    while (slots * 0.7 < expectedKeys && slots < 1 << 23) slots *= 2;
    this.slots = new Uint32Array(slots * 3);
    this.mask = slots - 1;
  }

  /**
   * Records one occurrence of a key with its order's day (days since 1970, or -1 unknown).
   * Ties keep the earlier occurrence: the newest order wins, the first in the file on a tie.
   */
  see(externalId: string, variantKey: string, day: number): Seen {
    let a = 0x811c9dc5, b = 0x9747b28c, c = 0x2545f491;
    // Three independent running hashes in one pass (written out: this runs once per row).
    for (let i = 0; i < externalId.length; i++) {
      const code = externalId.charCodeAt(i);
      a = Math.imul(a ^ code, 0x01000193);
      b = Math.imul(b ^ code, 0x5bd1e995); b ^= b >>> 13;
      c = Math.imul(c + code, 0x27d4eb2d); c = (c << 7) | (c >>> 25);
    }
    // The variant's own hashes, combined per lane (a file repeats a few variants endlessly).
    const v = this.variantHashes(variantKey);
    a = fmix(a ^ Math.imul(v[0]!, 0x9e3779b1)) >>> 0;
    b = (fmix(b ^ Math.imul(v[1]!, 0x85ebca77) ^ a) | 1) >>> 0;
    const tag = fmix(c ^ Math.imul(v[2]!, 0xc2b2ae3d) ^ b) & 0xffff0000;
    const stamp = Math.min(Math.max(day + 2, 1), 0xffff);
    const s = this.slots;
    for (let i = a & this.mask; ; i = (i + 1) & this.mask) {
      const o = i * 3;
      if (s[o + 1] === 0) {
        s[o] = a; s[o + 1] = b; s[o + 2] = (tag | stamp) >>> 0;
        if (++this.size > (this.mask + 1) * 0.7) this.grow();
        return FIRST;
      }
      const w = s[o + 2]!;
      if (s[o] === a && s[o + 1] === b && ((w & 0xffff0000) >>> 0) === tag >>> 0) {
        if (stamp > (w & 0xffff)) { s[o + 2] = (tag | stamp) >>> 0; return REPEAT_NEWER; }
        return REPEAT_OLDER;
      }
    }
  }

  private variants = new Map<string, Uint32Array>();

  private variantHashes(variantKey: string): Uint32Array {
    let h = this.variants.get(variantKey);
    if (h) return h;
    let a = 0x3c6ef372, b = 0xa54ff53a, c = 0x510e527f;
    for (let i = 0; i < variantKey.length; i++) {
      const code = variantKey.charCodeAt(i);
      a = Math.imul(a ^ code, 0x01000193);
      b = Math.imul(b ^ code, 0x5bd1e995); b ^= b >>> 13;
      c = Math.imul(c + code, 0x27d4eb2d); c = (c << 7) | (c >>> 25);
    }
    h = Uint32Array.of(fmix(a), fmix(b), fmix(c));
    if (this.variants.size >= 10_000) this.variants.clear();
    // A copy as the key: a slice of the parser's input would keep the whole chunk alive.
    this.variants.set(Buffer.from(variantKey, 'utf8').toString('utf8'), h);
    return h;
  }

  private grow(): void {
    const old = this.slots;
    const slots = (this.mask + 1) * 2;
    this.slots = new Uint32Array(slots * 3);
    this.mask = slots - 1;
    for (let o = 0; o < old.length; o += 3) {
      if (old[o + 1] === 0) continue;
      for (let i = old[o]! & this.mask; ; i = (i + 1) & this.mask) {
        if (this.slots[i * 3 + 1] === 0) { this.slots.set(old.subarray(o, o + 3), i * 3); break; }
      }
    }
  }
}

function fmix(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
