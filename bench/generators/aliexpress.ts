// Realistic AliExpress order exports (SPEC §4) for the inventory-import tests and benchmark:
// AliExpress-style titles for every category rule (including the precedence traps), every
// price format, attributes as strings in any key order or as objects, cancelled/refunded
// orders, re-bought items, and bad rows. Deterministic per seed; written as a stream so a
// million-item file never sits in memory.
import fs from 'node:fs';
import { once } from 'node:events';

export const CATEGORIES = [
  'Findings/Carabiners', 'Findings/Connectors', 'Accessories/Bag Accessories', 'Earrings/Components',
  'Chains/Necklace Chains', 'Chains/Bracelet Chains', 'Charms/Pendants', 'Components/Miscellaneous',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Title cores per category; each must land in its category under the SPEC §4 rules. */
export const TITLE_CORES: Record<Category, readonly string[]> = {
  'Findings/Carabiners': ['Lobster Clasp Hooks', 'Carabiner Clip Buckle', 'Snap Hook Swivel', 'Lobster Clasp Keychain', 'Carabiner Key Ring'],
  'Findings/Connectors': ['Open Jump Rings', 'Toggle Clasps Set', 'Spring Ring Clasps', 'Heart Connector Links', 'Double Jump Ring Connectors'],
  'Accessories/Bag Accessories': ['Keychain Ring', 'Purse Charm Holder', 'Key Chain Tassel', 'Handbag Strap Hook', 'Bag Pendant Decoration', 'Key Ring Split Rings'],
  'Earrings/Components': ['Ear Hooks Earring Findings', 'Ear Wire Hooks', 'Ear Stud Posts with Backs', 'Hoop Earrings Blank', 'Earring Charm Hoops'],
  'Chains/Necklace Chains': ['Gold Necklace Chain', 'Choker Chain', 'Rope Chain Necklace 45cm', 'Snake Chains for Necklace Making'],
  'Chains/Bracelet Chains': ['Cuban Link Chain', 'Bracelet Chain Extender', 'Paperclip Chains by the Meter', 'Figaro Chain 2m', 'Anklet Chain'],
  'Charms/Pendants': ['Charms Enamel Heart', 'Moon Star Pendant', 'Alphabet Letter Charm', 'Pendants Butterfly', 'Charm Beads'],
  'Components/Miscellaneous': ['Crimp Beads', 'Cabbage Leaf Beads', 'Bead Caps', 'Jewelry Pliers Tool', 'Elastic Cord Thread', 'Headpins Eyepins'],
};
export const MATERIALS = ['Stainless Steel', '18K Gold Plated', '925 Sterling Silver', 'Alloy', 'Brass', 'Titanium Steel', 'Copper'];
export const SUFFIXES = ['', ' for DIY Jewelry Making', ' Findings Supplies', ' Wholesale', ' Accessories', ' DIY Craft'];
export const STORES = ['Yiwu Findings Store', 'Shenzhen Jewelry Supplies', 'Guangzhou Beads Official Store', 'DIY Craft World', 'Jewelry Findings Factory'];
export const COLORS = ['Gold', 'Silver', 'Rose Gold', 'Black', 'KC Gold', 'Antique Bronze'];
export const SIZES = ['6mm', '8mm', '10mm', '12mm', '10x20mm', '45cm', '50cm', '1 Meter'];

export type PriceFormat = 'dollar' | 'us-space' | 'us' | 'plain' | 'number';
export const PRICE_FORMATS: readonly PriceFormat[] = ['dollar', 'us-space', 'us', 'plain', 'number'];

/** Renders a price in cents in one of the export's formats ("$1,299.00" for four digits). */
export function formatPrice(cents: number, format: PriceFormat): string | number {
  const units = Math.floor(cents / 100);
  const grouped = units.toLocaleString('en-US');
  const text = `${grouped}.${String(cents % 100).padStart(2, '0')}`;
  const plain = `${units}.${String(cents % 100).padStart(2, '0')}`;
  switch (format) {
    case 'dollar': return `$${text}`;
    case 'us-space': return `US $${text}`;
    case 'us': return `US$${text}`;
    case 'plain': return plain;
    case 'number': return Number(plain);
  }
}

/** Normalized attributes → the export's string form, keys in the given order, Title Case. */
export function attributeString(attrs: Record<string, string>, keys = Object.keys(attrs)): string {
  return keys.map((k) => `${k.split('_').map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ')}: ${attrs[k]}`).join(', ');
}

export interface ExportItem {
  itemId: string;
  title: string;
  price: string | number;
  quantity: number;
  attributes?: string | Record<string, string>;
  imageUrl?: string;
  productUrl?: string;
}
export interface ExportOrder { orderId: string; orderDate: string; status: string; storeName: string; items: unknown[] }

/** What the import should make of one landed row, computed independently of the job's code. */
export interface ExpectedRow { itemId: string; variantKey: string; category: Category; unitPriceCents: number; quantity: number }

export interface GenerateOptions {
  seed?: number;
  /** Items across all orders, including cancelled ones and bad rows. */
  items: number;
  itemsPerOrder?: [number, number];
  /** Share of orders that are Cancelled or Refunded [0.03]. */
  cancelledRate?: number;
  /** Share of items that are bad rows [0.01]. */
  badRate?: number;
  /** Share of items that re-buy an earlier item (same id and attributes, maybe re-ordered) [0.05]. */
  repeatRate?: number;
  /** A bare top-level array instead of {exportedAt, orders} [false]. */
  bareArray?: boolean;
  /** Collect the expected landed rows (small exports only: it keeps one entry per row). */
  collectExpected?: boolean;
}

export interface GenerateStats {
  orders: number;
  items: number;
  cancelledItems: number;
  badItems: number;
  /** Bad items in orders that count: what the import must reject. */
  rejectedItems: number;
  /** Good items in orders that count. */
  landedItems: number;
  /** Distinct (itemId, variant) pairs landed. */
  distinctRows: number;
  bytes: number;
  expected?: Map<string, ExpectedRow>;
  badReasons: Record<string, number>;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bad rows the importer must reject, each with the word its reason should contain. */
export const BAD_ROWS: readonly { reason: string; patch: (item: ExportItem) => unknown }[] = [
  { reason: 'itemId', patch: ({ itemId: _, ...rest }) => rest },
  { reason: 'title', patch: (i) => ({ ...i, title: '  ' }) },
  { reason: 'quantity', patch: (i) => ({ ...i, quantity: 0 }) },
  { reason: 'quantity', patch: (i) => ({ ...i, quantity: -2 }) },
  { reason: 'quantity', patch: (i) => ({ ...i, quantity: 1.5 }) },
  { reason: 'quantity', patch: (i) => ({ ...i, quantity: 'two' }) },
  { reason: 'price', patch: (i) => ({ ...i, price: '€2.91' }) },
  { reason: 'price', patch: (i) => ({ ...i, price: 'EUR 2.91' }) },
  { reason: 'price', patch: (i) => ({ ...i, price: '-$1.00' }) },
  { reason: 'price', patch: (i) => ({ ...i, price: '' }) },
  { reason: 'attributes', patch: (i) => ({ ...i, attributes: 'Gold' }) },
  { reason: 'object', patch: () => 'not an item' },
];

interface Known { itemId: string; title: string; attrs: Record<string, string>; category: Category; cents: number; imageUrl: string }

/**
 * Yields the export as JSON text pieces (a few KB each). `stats` fills in as it goes and is
 * complete when the generator is done.
 */
export function* exportText(opts: GenerateOptions, stats: GenerateStats = emptyStats()): Generator<string, GenerateStats> {
  const rnd = mulberry32(opts.seed ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const [minPer, maxPer] = opts.itemsPerOrder ?? [1, 6];
  const cancelledRate = opts.cancelledRate ?? 0.03;
  const badRate = opts.badRate ?? 0.01;
  const repeatRate = opts.repeatRate ?? 0.05;
  if (opts.collectExpected) stats.expected = new Map();
  const recent: Known[] = []; // bounded pool of landed items to re-buy
  let nextId = 0;
  let day = Date.UTC(2025, 7, 1);
  let produced = 0;

  const emit = (s: string) => { stats.bytes += Buffer.byteLength(s); return s; };
  yield emit(opts.bareArray ? '[' : `{"exportedAt":"2025-08-02T17:54:46.302Z","orders":[`);
  let buf = '';
  while (produced < opts.items) {
    const n = Math.min(opts.items - produced, minPer + Math.floor(rnd() * (maxPer - minPer + 1)));
    const cancelled = rnd() < cancelledRate;
    if (rnd() < 0.02) day -= 86_400_000; // newest first, as AliExpress lists them
    const items: unknown[] = [];
    for (let i = 0; i < n; i++) {
      let known: Known;
      const repeat = recent.length > 0 && rnd() < repeatRate;
      if (repeat) {
        known = pick(recent);
      } else {
        const category = pick(CATEGORIES);
        const attrs: Record<string, string> = {};
        if (rnd() < 0.9) attrs.color = pick(COLORS);
        if (rnd() < 0.7) attrs.size = pick(SIZES);
        if (rnd() < 0.1) attrs.ships_from = 'China';
        // AliExpress item ids look random: a bijection of the counter keeps them unique.
        const id = String(1005006000000000 + ((nextId++ * 7919 + 12345) % 1_000_000_000));
        const big = rnd() < 0.005;
        known = {
          itemId: id,
          title: `${rnd() < 0.5 ? `${pick([5, 10, 20, 50, 100])}Pcs ` : ''}${pick(MATERIALS)} ${pick(TITLE_CORES[category])}${pick(SUFFIXES)}`,
          attrs, category,
          cents: big ? 100_000 + Math.floor(rnd() * 200_000) : 20 + Math.floor(rnd() * 1_500),
          imageUrl: `https://ae01.alicdn.com/kf/S${id.slice(-8)}.jpg`,
        };
      }
      const keys = Object.keys(known.attrs).sort(() => rnd() - 0.5);
      const asObject = rnd() < 0.15;
      const quantity = 1 + Math.floor(rnd() * (rnd() < 0.1 ? 50 : 5));
      const item: ExportItem = {
        itemId: known.itemId,
        title: known.title,
        price: formatPrice(known.cents, known.cents >= 100_000 ? pick(['dollar', 'us-space'] as const) : pick(PRICE_FORMATS)),
        quantity,
        ...(keys.length === 0 && rnd() < 0.5 ? {} : { attributes: asObject ? Object.fromEntries(keys.map((k) => [k, known.attrs[k]!])) : attributeString(known.attrs, keys) }),
        imageUrl: known.imageUrl,
        productUrl: `https://www.aliexpress.com/item/${known.itemId}.html`,
      };
      produced++;
      stats.items++;
      if (rnd() < badRate) {
        const bad = pick(BAD_ROWS);
        items.push(bad.patch(item));
        stats.badItems++;
        stats.badReasons[bad.reason] = (stats.badReasons[bad.reason] ?? 0) + 1;
        if (cancelled) stats.cancelledItems++; else stats.rejectedItems++;
        continue;
      }
      items.push(item);
      if (cancelled) { stats.cancelledItems++; continue; }
      stats.landedItems++;
      if (!repeat) {
        stats.distinctRows++;
        if (recent.length < 1_000) recent.push(known); else recent[Math.floor(rnd() * recent.length)] = known;
      }
      if (stats.expected) {
        const variantKey = variantKeyOf(known.attrs);
        const key = `${known.itemId}\u0000${variantKey}`;
        const prev = stats.expected.get(key);
        stats.expected.set(key, { itemId: known.itemId, variantKey, category: known.category, unitPriceCents: known.cents, quantity: (prev?.quantity ?? 0) + quantity });
      }
    }
    const order: ExportOrder = {
      orderId: String(8190000000000000 + stats.orders),
      orderDate: new Date(day).toISOString().slice(0, 10),
      status: cancelled ? pick(['Cancelled', 'Refunded']) : pick(['Completed', 'Completed', 'Awaiting delivery', 'Shipped']),
      storeName: pick(STORES),
      items,
    };
    buf += (stats.orders++ === 0 ? '' : ',') + JSON.stringify(order);
    if (buf.length > 16_384) { yield emit(buf); buf = ''; }
  }
  yield emit(`${buf}]${opts.bareArray ? '' : '}'}`);
  return stats;
}

export function emptyStats(): GenerateStats {
  return { orders: 0, items: 0, cancelledItems: 0, badItems: 0, rejectedItems: 0, landedItems: 0, distinctRows: 0, bytes: 0, badReasons: {} };
}

/** The variant key the import must produce: normalized attributes as JSON, sorted by key. */
export function variantKeyOf(attrs: Record<string, string>): string {
  const keys = Object.keys(attrs).sort();
  return keys.length === 0 ? '' : JSON.stringify(Object.fromEntries(keys.map((k) => [k, attrs[k]])));
}

/** The whole export as one string (small exports: tests). */
export function exportString(opts: GenerateOptions): { text: string; stats: GenerateStats } {
  const stats = emptyStats();
  let text = '';
  for (const piece of exportText(opts, stats)) text += piece;
  return { text, stats };
}

/** Streams the export to a file with backpressure; memory stays flat at any size. */
export async function writeExport(file: string, opts: GenerateOptions): Promise<GenerateStats> {
  const stats = emptyStats();
  const out = fs.createWriteStream(file);
  try {
    for (const piece of exportText(opts, stats)) {
      if (!out.write(piece)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return stats;
}

