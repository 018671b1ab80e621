// SPEC §4 rules as pure functions: prices, quantities, attributes, categories, the reader's
// shape checks and the repeat tracker. The database side is in import.test.ts.
import { describe, it, expect } from 'vitest';
import { parsePrice, parseQuantity, parseAttributes, normalizeItem, orderDay, isCancelled, Rejected } from '../../jobs/inventory-import/normalize.ts';
import { loadRules, compileRules } from '../../jobs/inventory-import/categories.ts';
import { ExportReader, ShapeError } from '../../jobs/inventory-import/reader.ts';
import { KeyTracker } from '../../jobs/inventory-import/keys.ts';
import { jsonParser, type Token } from 'stream-json/core/parser.js';
import { TITLE_CORES, CATEGORIES } from '../../bench/generators/aliexpress.ts';

const { categorize } = loadRules();

describe('price', () => {
  it.each([
    ['$2.91', '2.91'], ['US $2.91', '2.91'], ['US$2.91', '2.91'], ['2.91', '2.91'], ['$1,299.00', '1299.00'],
    ['US $1,299.00', '1299.00'], ['$12,345,678.5', '12345678.50'], ['  $3 ', '3.00'], ['0.99', '0.99'], ['$0', '0.00'], ['007.10', '7.10'],
  ])('%j means USD %s', (input, expected) => {
    expect(parsePrice(input)).toBe(expected);
  });

  it('reads a JSON number as its exact source text', () => {
    // The reader passes numbers on as text ("2.91", never 2.9099999…).
    expect(parsePrice('2.91')).toBe('2.91');
  });

  it.each([
    [undefined, /price is missing/], [null, /price is missing/], [true, /not a price/], ['', /price is empty/], ['   ', /price is empty/],
    ['-$1.00', /negative/], ['$-1.00', /negative/], ['-2.91', /negative/], ['US $-3', /negative/],
    ['€2.91', /not in US dollars/], ['EUR 2.91', /not in US dollars/], ['£2.91', /not in US dollars/], ['2.91 RUB', /not in US dollars/],
    ['2.919', /more than two decimals/], ['$1,29', /not a recognised format/], ['$', /not a recognised format/], ['1e3', /not a recognised format/],
    ['$123,456,789.00', /too large/],
  ])('rejects %j', (input, reason) => {
    const r = parsePrice(input as string);
    expect(r).toBeInstanceOf(Rejected);
    expect((r as Rejected).reason).toMatch(reason);
  });
});

describe('quantity', () => {
  it.each([['1', 1], ['12', 12], ['3.0', 3], [' 4 ', 4]])('%j → %d', (input, n) => {
    expect(parseQuantity(input)).toBe(n);
  });
  it.each([[undefined, /missing/], ['0', /positive integer \(got 0\)/], ['-2', /positive integer/], ['1.5', /positive integer/],
    ['two', /positive integer \(got "two"\)/], [true, /positive integer/], ['1000001', /larger than 1000000/]])('rejects %j', (input, reason) => {
    const r = parseQuantity(input as string);
    expect(r).toBeInstanceOf(Rejected);
    expect((r as Rejected).reason).toMatch(reason);
  });
});

describe('attributes', () => {
  const key = (v: Parameters<typeof parseAttributes>[0]) => {
    const r = parseAttributes(v);
    if (r instanceof Rejected) throw new Error(r.reason);
    return r;
  };

  it('normalizes "Key: Value" text: keys trimmed, lower-cased, inner spaces to "_", values trimmed', () => {
    expect(key('Color: Gold, Size: 12cm')).toBe('{"color":"Gold","size":"12cm"}');
    expect(key('  Metal  Color :  Rose Gold ,Ships From: China ')).toBe('{"metal_color":"Rose Gold","ships_from":"China"}');
  });

  it('does not depend on key order, or on text versus object', () => {
    const a = key('Color: Gold, Size: 12cm');
    expect(key('Size: 12cm, Color: Gold')).toBe(a);
    expect(key({ size: '12cm', color: 'Gold' })).toBe(a);
    expect(JSON.parse(a)).toEqual({ color: 'Gold', size: '12cm' });
  });

  it('keeps a comma inside a value and a colon after the first', () => {
    expect(key('Size: 1,5mm, Plug: US: 110V')).toBe('{"plug":"US: 110V","size":"1,5mm"}');
  });

  it('takes an object as is, and no attributes as the empty key', () => {
    expect(key({ Colour: 'Gold', count: 3, plated: true })).toBe('{"Colour":"Gold","count":3,"plated":true}');
    expect(key(undefined)).toBe('');
    expect(key(null)).toBe('');
    expect(key('')).toBe('');
    expect(key({})).toBe('');
  });

  it('treats "__proto__" as data', () => {
    expect(key('__proto__: x')).toBe('{"__proto__":"x"}');
  });

  it.each([['Gold', /"Name: value" pairs/], [': Gold', /without a name/], ['Color: Gold, color: Silver', /appears twice/],
    [42 as unknown as string, /must be text/], [`Color: ${'x'.repeat(201)}`, /longer than 200/]])('rejects %j', (input, reason) => {
    const r = parseAttributes(input);
    expect(r).toBeInstanceOf(Rejected);
    expect((r as Rejected).reason).toMatch(reason);
  });
});

describe('categories (rules from categories.json, first match wins)', () => {
  it.each([
    ['10Pcs Stainless Steel Lobster Clasp Carabiner Hooks', 'Findings/Carabiners'],
    ['Lobster Clasp Keychain', 'Findings/Carabiners'],
    ['Snap Hook Swivel', 'Findings/Carabiners'],
    ['Open Jump Rings 6mm', 'Findings/Connectors'],
    ['Toggle Clasps Set', 'Findings/Connectors'],
    ['Heart Connector', 'Findings/Connectors'],
    ['Spring Ring Clasp', 'Findings/Connectors'],
    ['Cute Keychain', 'Accessories/Bag Accessories'],
    ['Key Chain Tassel', 'Accessories/Bag Accessories'],
    ['Key-Chain Tassel', 'Accessories/Bag Accessories'],
    ['Purse Charm Holder', 'Accessories/Bag Accessories'],
    ['Handbag Strap Hook', 'Accessories/Bag Accessories'],
    ['Bag Pendant', 'Accessories/Bag Accessories'],
    ['Key Ring Split Rings', 'Accessories/Bag Accessories'],
    ['925 Silver Ear Hooks', 'Earrings/Components'],
    ['Earring Charm Hoops', 'Earrings/Components'],
    ['Ear Wire', 'Earrings/Components'],
    ['Ear Stud Posts', 'Earrings/Components'],
    ['Hoop Blank', 'Earrings/Components'],
    ['Gold Necklace Chain', 'Chains/Necklace Chains'],
    ['Choker Chain', 'Chains/Necklace Chains'],
    ['Snake Chains for Necklace Making', 'Chains/Necklace Chains'],
    ['Cuban Link Chain', 'Chains/Bracelet Chains'],
    ['Bracelet Chain Extender', 'Chains/Bracelet Chains'],
    ['Charms', 'Charms/Pendants'],
    ['10Charms Enamel', 'Charms/Pendants'],
    ['Moon Pendant', 'Charms/Pendants'],
    ['Cabbage Leaf Beads', 'Components/Miscellaneous'],
    ['Crimp Beads', 'Components/Miscellaneous'],
    ['', 'Components/Miscellaneous'],
  ])('%j → %s', (title, category) => {
    expect(categorize(title)).toBe(category);
  });

  it('matches case-insensitively at the start of a word only', () => {
    expect(categorize('CHARMING beads')).toBe('Charms/Pendants'); // "charm" starts the word
    expect(categorize('Enchanting Beads')).toBe('Components/Miscellaneous');
    expect(categorize('Cabbage')).toBe('Components/Miscellaneous');
    expect(categorize('Unchained Melody Beads')).toBe('Components/Miscellaneous');
  });

  it('puts every generator title core in its intended category', () => {
    for (const category of CATEGORIES) for (const core of TITLE_CORES[category]) expect(categorize(`Alloy ${core} Wholesale`), core).toBe(category);
  });

  it('refuses a rules file without a final catch-all rule', () => {
    expect(() => compileRules([{ category: 'A', all: [['x']] }])).toThrow(/last rule must have no keywords/);
  });
});

describe('item validation', () => {
  const item = { itemId: '1005006123456789', title: ' Moon Pendant ', price: '$2.91', quantity: '2', attributes: 'Color: Gold', imageUrl: 'https://ae01.alicdn.com/kf/S1.jpg' };

  it('normalizes a good item', () => {
    expect(normalizeItem(item, categorize)).toEqual({
      externalId: '1005006123456789', variantKey: '{"color":"Gold"}', title: 'Moon Pendant', category: 'Charms/Pendants',
      unitPrice: '2.91', quantity: 2, imageUrl: 'https://ae01.alicdn.com/kf/S1.jpg',
    });
  });

  it('keeps the row but drops an image URL that is not http(s)', () => {
    expect(normalizeItem({ ...item, imageUrl: 'javascript:alert(1)' }, categorize)).toMatchObject({ imageUrl: null });
  });

  it.each([
    [{ itemId: undefined }, 'itemId is missing'], [{ itemId: 'a\u0000' }, /control characters/], [{ attributes: 'Color: a\u0000' }, /NUL/],
    [{ attributes: { 'a\u0000': 'x' } }, /NUL/], [{ itemId: '  ' }, /itemId must be/], [{ itemId: 'x'.repeat(65) }, /longer than 64/],
    [{ title: undefined }, 'title is missing'], [{ title: '   ' }, 'title is empty'], [{ title: true }, /title must be text/],
    [{ quantity: '0' }, /quantity must be a positive integer/], [{ price: 'EUR 1' }, /not in US dollars/], [{ attributes: 'Gold' }, /pairs/],
    [{ bad: 'item is not an object' }, 'item is not an object'],
  ])('rejects %j', (patch, reason) => {
    const r = normalizeItem({ ...item, ...patch } as never, categorize);
    expect(typeof r).toBe('string');
    expect(r).toMatch(reason);
  });
});

describe('orders', () => {
  it('skips Cancelled and Refunded orders only', () => {
    expect(['Cancelled', 'cancelled', 'Canceled', 'Refunded', ' REFUNDED '].every(isCancelled)).toBe(true);
    expect(['Completed', 'Shipped', 'Awaiting delivery', undefined, null].some((s) => isCancelled(s as string))).toBe(false);
  });

  it('reads order dates as days, anything odd as unknown', () => {
    expect(orderDay('1970-01-02')).toBe(1);
    expect(orderDay('2025-07-14T10:00:00Z')).toBe(orderDay('2025-07-14'));
    expect(orderDay('2025-02-30')).toBe(-1);
    expect(orderDay('yesterday')).toBe(-1);
    expect(orderDay(null)).toBe(-1);
  });
});

function read(text: string): ExportReader {
  const reader = new ExportReader();
  const parse = jsonParser({ packValues: true, streamValues: false }) as unknown as (s: string | symbol) => { values: Token[] } | symbol;
  for (const out of [parse(text), parse(Symbol.for('object-stream.none'))]) if (typeof out !== 'symbol') reader.write(out.values);
  reader.end();
  return reader;
}

describe('reader', () => {
  it('reads orders and items, skipping unknown values however nested, in either top-level form', () => {
    const order = { extra: { deep: [1, { x: [2] }] }, items: [{ title: 'A', misc: [{}], itemId: 7, attributes: { color: 'Gold', n: 1.50 } }, 'oops'], status: 'Completed', storeName: 'S' };
    for (const text of [JSON.stringify({ exportedAt: 'x', orders: [order] }), JSON.stringify([order])]) {
      const [o] = read(text).ready;
      expect(o).toMatchObject({ index: 0, status: 'Completed', storeName: 'S' });
      expect(o!.items).toEqual([{ title: 'A', itemId: '7', attributes: { color: 'Gold', n: 1.5 } }, { bad: 'item is not an object' }]);
    }
  });

  it.each([
    ['42', /top level must be an object/], ['{"foo":1}', /no "orders" array/], ['{"orders":{}}', /"orders" must be an array/],
    ['{"orders":[1]}', /orders\[0\] is not an object/], ['[{"items":{}}]', /\[0\]\.items must be an array/],
    ['{"orders":[],"orders":[]}', /appears twice/],
  ])('refuses %s', (text, message) => {
    expect(() => read(text)).toThrow(ShapeError);
    expect(() => read(text)).toThrow(message);
  });

  it('notices a truncated export', () => {
    const reader = new ExportReader();
    const parse = jsonParser({ packValues: true, streamValues: false }) as unknown as (s: string) => { values: Token[] } | symbol;
    const out = parse('{"orders":[{"items":[]}');
    if (typeof out !== 'symbol') reader.write(out.values);
    expect(() => reader.end()).toThrow(/ends before the export does/);
  });
});

describe('repeat tracker', () => {
  it('flags repeats, and marks an occurrence newer only when its order is strictly newer', () => {
    const keys = new KeyTracker();
    expect(keys.see('1', '', 100)).toEqual({ repeat: false, newer: true });
    expect(keys.see('1', '', 100)).toEqual({ repeat: true, newer: false });
    expect(keys.see('1', '', 99)).toEqual({ repeat: true, newer: false });
    expect(keys.see('1', '', 101)).toEqual({ repeat: true, newer: true });
    expect(keys.see('1', '{"a":"b"}', 1)).toEqual({ repeat: false, newer: true });
    expect(keys.see('1{', '"a":"b"}', 1).repeat).toBe(false); // the separator keeps ("1","{…") apart from ("1{","…")
    expect(keys.see('2', '', -1)).toEqual({ repeat: false, newer: true });
    expect(keys.see('2', '', 0)).toEqual({ repeat: true, newer: true }); // a known date beats an unknown one
  });

  it('keeps every key through growth', () => {
    const keys = new KeyTracker();
    let firsts = 0;
    for (let i = 0; i < 200_000; i++) if (!keys.see(String(i), 'v', 1).repeat) firsts++;
    expect(firsts).toBe(200_000);
    let repeats = 0;
    for (let i = 0; i < 200_000; i += 7) if (keys.see(String(i), 'v', 1).repeat) repeats++;
    expect(repeats).toBe(Math.ceil(200_000 / 7));
    expect(keys.size).toBe(200_000);
  });
});
