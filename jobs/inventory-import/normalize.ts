// Price, quantity and attribute rules of SPEC §4, and the validation of one item. Each
// function returns the normalized value or a reason a person can act on.
import type { AttrValue, RawItem, Scalar } from './reader.ts';

/** Why a value was refused. A success is the value itself: no allocation per field on the hot path. */
export class Rejected {
  constructor(readonly reason: string) {}
}
export type Result<T> = T | Rejected;
const ok = <T>(value: T): Result<T> => value;
const fail = (reason: string): Rejected => new Rejected(reason);

export const FIELD_LIMITS = { itemId: 64, title: 1_000, attrKey: 64, attrValue: 200, variantKey: 1_000, imageUrl: 2_048, storeName: 200 };
const MAX_QUANTITY = 1_000_000;

/**
 * Shows an offending value in a reason, shortened so a hostile value cannot flood the
 * report. Numbers reach us as their source text; they are shown unquoted, like JSON.
 */
function shown(v: Scalar | undefined): string {
  if (typeof v !== 'string') return String(v);
  if (/^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/.test(v) && v.length <= 40) return v;
  return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
}

// "$2.91", "US $2.91", "US$2.91", "2.91", "$1,299.00" (and JSON numbers, read as their text).
const PRICE = /^(?:US\s*)?\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$/i;

/** A USD price as numeric text with two decimals ("1299.00"), or why it is not one. */
export function parsePrice(value: Scalar | undefined): Result<string> {
  if (value === undefined || value === null) return fail('price is missing');
  if (typeof value !== 'string') return fail(`price is not a price (got ${shown(value)})`);
  const text = value.trim();
  if (text === '') return fail('price is empty');
  const m = PRICE.exec(text);
  if (!m) {
    // No digit at all ("NaN", "Infinity", "free") is no amount, not an amount in another currency.
    if (!/\d/.test(text)) return fail(`price is not a recognised format (got ${shown(value)})`);
    if (/^(?:US\s*)?\$?\s*-|^-/i.test(text)) return fail(`price is negative (got ${shown(value)})`);
    if (/\d\.\d{3,}$/.test(text)) return fail(`price has more than two decimals (got ${shown(value)})`);
    if (/^\d+(?:\.\d+)?e[-+]?\d+$/i.test(text)) return fail(`price is not a recognised format (got ${shown(value)})`);
    if (/[^\d\s.,$]/.test(text.replace(/^US/i, ''))) return fail(`price is not in US dollars (got ${shown(value)})`);
    return fail(`price is not a recognised format (got ${shown(value)})`);
  }
  const units = m[1]!.replace(/,/g, '').replace(/^0+(?=\d)/, '');
  // numeric(10,2): at most 8 digits before the point.
  if (units.length > 8) return fail(`price is too large (got ${shown(value)})`);
  const cents = m[2] === undefined ? '00' : m[2].length === 1 ? `${m[2]}0` : m[2];
  return ok(`${units}.${cents}`);
}

const INTEGER = /^\d+(?:\.0+)?$/;

export function parseQuantity(value: Scalar | undefined): Result<number> {
  if (value === undefined || value === null) return fail('quantity is missing');
  const text = typeof value === 'string' ? value.trim() : '';
  if (!INTEGER.test(text)) return fail(`quantity must be a positive integer (got ${shown(value)})`);
  const n = Number.parseInt(text, 10);
  if (n < 1) return fail(`quantity must be a positive integer (got ${shown(value)})`);
  if (n > MAX_QUANTITY) return fail(`quantity is larger than ${MAX_QUANTITY} (got ${shown(value)})`);
  return ok(n);
}

export interface Attributes { /** Sorted-key JSON of the attributes, '' for none. */ variantKey: string }

/** Canonical JSON of a flat object: keys sorted, so key order never matters. */
function canonical(attrs: Record<string, AttrValue>, keys: string[]): string {
  if (keys.length === 0) return '';
  keys.sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    out += `${i ? ',' : ''}${JSON.stringify(k)}:${JSON.stringify(attrs[k])}`;
  }
  return `${out}}`;
}

/**
 * "Color: Gold, Size: 12cm" → {"color":"Gold","size":"12cm"}: keys trimmed, lower-cased,
 * inner spaces → "_"; values trimmed. A piece without a colon continues the previous value
 * ("Size: 1,5mm"). An object is taken as is. Returns the variant key (the attributes as
 * canonical JSON); the attributes column is that JSON.
 */
export function parseAttributes(value: RawItem['attributes']): Result<string> {
  if (value === undefined || value === null) return ok('');
  if (typeof value === 'string') {
    // Exports repeat a few attribute strings endlessly ("Color: Gold, Size: 12mm").
    const known = attributeCache.get(value);
    if (known !== undefined) return known;
    const parsed = parseAttributeText(value);
    if (attributeCache.size >= ATTRIBUTE_CACHE) attributeCache.clear();
    // A copy as the key: the value is a slice of the parser's input chunk and would keep it alive.
    attributeCache.set(Buffer.from(value, 'utf8').toString('utf8'), parsed instanceof Rejected ? fail(Buffer.from(parsed.reason, 'utf8').toString('utf8')) : parsed);
    return parsed;
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    for (const k of keys) {
      if (k.length > FIELD_LIMITS.attrKey) return fail(`attribute name longer than ${FIELD_LIMITS.attrKey} characters`);
      const v = value[k];
      if (typeof v === 'string' && v.length > FIELD_LIMITS.attrValue) return fail(`attribute "${k.slice(0, 40)}" is longer than ${FIELD_LIMITS.attrValue} characters`);
    }
    return checked(canonical(value, keys));
  }
  return fail(`attributes must be text like "Color: Gold, Size: 12mm" or an object (got ${shown(value)})`);
}

const ATTRIBUTE_CACHE = 10_000;
const attributeCache = new Map<string, Result<string>>();

function parseAttributeText(value: string): Result<string> {
  const text = value.trim();
  if (text === '') return ok('');
  const attrs = Object.create(null) as Record<string, string>;
  const keys: string[] = [];
  let last: string | undefined;
  for (const piece of text.split(',')) {
    const colon = piece.indexOf(':');
    if (colon < 0) {
      if (piece.trim() === '') continue;
      if (last === undefined) return fail(`attributes must be "Name: value" pairs (got ${shown(value)})`);
      attrs[last] += `,${piece}`;
      continue;
    }
    const key = piece.slice(0, colon).trim().toLowerCase().replace(/\s+/g, '_');
    if (key === '') return fail(`attribute without a name (got ${shown(value)})`);
    if (key.length > FIELD_LIMITS.attrKey) return fail(`attribute name longer than ${FIELD_LIMITS.attrKey} characters`);
    if (key in attrs) return fail(`attribute "${key}" appears twice (got ${shown(value)})`);
    if (keys.length >= 32) return fail('more than 32 attributes');
    attrs[key] = piece.slice(colon + 1);
    keys.push(key);
    last = key;
  }
  for (const k of keys) {
    const v = attrs[k]!.trim();
    if (v.length > FIELD_LIMITS.attrValue) return fail(`attribute "${k}" is longer than ${FIELD_LIMITS.attrValue} characters`);
    attrs[k] = v;
  }
  return checked(canonical(attrs, keys));
}

// The unique index holds (external_id, variant_key); btree entries must stay well under 2.7 kB.
// jsonb refuses \u0000, and the attributes column is the variant key read as jsonb.
function checked(variantKey: string): Result<string> {
  if (variantKey.length > FIELD_LIMITS.variantKey) return fail(`attributes longer than ${FIELD_LIMITS.variantKey} characters in all`);
  // An escape preceded by an even number of backslashes is one JSON.stringify wrote: for NUL, or
  // for an unpaired surrogate (it writes paired ones as they are). jsonb (variant_key::jsonb)
  // refuses both, and would fail the whole import, retried, over one row.
  if (ESCAPED_NUL.test(variantKey)) return fail('attributes contain a NUL character');
  return ESCAPED_LONE_SURROGATE.test(variantKey) ? fail('attributes contain invalid Unicode (an unpaired surrogate)') : ok(variantKey);
}

const ESCAPED_NUL = /(?<!\\)(?:\\\\)*\\u0000/;
const ESCAPED_LONE_SURROGATE = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/i;

export interface NormalRow {
  externalId: string;
  variantKey: string;
  title: string;
  category: string;
  /** numeric text, two decimals */
  unitPrice: string;
  quantity: number;
  imageUrl: string | null;
}

const HTTP_URL = /^https?:\/\/\S+$/i;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Validates and normalizes one item: the row to stage, or the reason it is rejected. */
export function normalizeItem(item: RawItem, categorize: (title: string) => string): NormalRow | string {
  if (item.bad) return item.bad;
  const id = typeof item.itemId === 'string' ? item.itemId.trim() : '';
  if (id === '') return item.itemId === undefined || item.itemId === null ? 'itemId is missing' : `itemId must be a string or a number (got ${shown(item.itemId)})`;
  if (id.length > FIELD_LIMITS.itemId) return `itemId is longer than ${FIELD_LIMITS.itemId} characters`;
  if (CONTROL.test(id)) return 'itemId contains control characters';
  // NUL cannot be stored in text (COPY drops it): a title of NULs and spaces is empty, not present.
  const title = typeof item.title === 'string' ? (item.title.includes('\u0000') ? item.title.replace(/\u0000/g, '') : item.title).trim() : '';
  if (title === '') return item.title === undefined || item.title === null ? 'title is missing' : typeof item.title === 'string' ? 'title is empty' : `title must be text (got ${shown(item.title)})`;
  if (title.length > FIELD_LIMITS.title) return `title is longer than ${FIELD_LIMITS.title} characters`;
  const quantity = parseQuantity(item.quantity);
  if (quantity instanceof Rejected) return quantity.reason;
  const price = parsePrice(item.price);
  if (price instanceof Rejected) return price.reason;
  const attributes = parseAttributes(item.attributes);
  if (attributes instanceof Rejected) return attributes.reason;
  const url = item.imageUrl;
  // A bad image URL is not worth losing the stock count: the row lands without it.
  const imageUrl = typeof url === 'string' && url.length <= FIELD_LIMITS.imageUrl && HTTP_URL.test(url) ? url : null;
  return { externalId: id, variantKey: attributes, title, category: categorize(title), unitPrice: price, quantity, imageUrl };
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})/;

/**
 * "2025-07-14" (or an ISO timestamp) → days since 1970-01-01; anything else → -1. It only
 * decides which order's title and price win for an item bought more than once.
 */
export function orderDay(value: Scalar | undefined): number {
  if (typeof value !== 'string') return -1;
  if (value === lastDay.text) return lastDay.day; // orders come sorted by date: most share the previous one's
  const day = dayOf(value);
  lastDay = { text: Buffer.from(value, 'utf8').toString('utf8'), day };
  return day;
}

let lastDay = { text: '', day: -1 };

function dayOf(value: string): number {
  const m = DATE.exec(value);
  if (!m) return -1;
  const y = Number(m[1]), mo = Number(m[2]) - 1, d = Number(m[3]);
  const t = Date.UTC(y, mo, d);
  const date = new Date(t);
  return y >= 1970 && date.getUTCFullYear() === y && date.getUTCMonth() === mo && date.getUTCDate() === d ? t / 86_400_000 : -1;
}

/** Orders that add nothing to stock (SPEC §4). */
export function isCancelled(status: Scalar | undefined): boolean {
  return typeof status === 'string' && /^\s*(cancell?ed|refunded)\s*$/i.test(status);
}
