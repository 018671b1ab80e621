import { z } from 'zod';
import { isStorableText } from '../../shared/text.ts';

// KicksDB v3 item shapes (docs.kicks.dev; SPEC §5), validated one item at a time so a
// malformed item is skipped and counted instead of failing its page. Objects are not
// strict: the API adds fields over time, and we only read the ones named here.

export type Source = 'stockx' | 'goat';

export interface VariantRow {
  size: string;
  sizeType: string;
  lowestAsk: number | null;
  totalAsks: number | null;
  available: boolean | null;
  currency: string;
}

export interface ProductRow {
  sourceProductId: string;
  sku: string | null;
  slug: string | null;
  title: string;
  brand: string | null;
  imageUrl: string | null;
  traits: Record<string, string | number | boolean | null>;
  minPrice: number | null;
  maxPrice: number | null;
  avgPrice: number | null;
  retailPrice: number | null;
  /** ISO timestamp; null when the source sent none. */
  sourceUpdatedAt: string | null;
  /** undefined: the listing carried no variants (GOAT search), so the detail endpoint is asked. */
  variants: VariantRow[] | undefined;
}

export interface Skipped { reason: string; id: string }

/**
 * numeric(10,2): money as a number or a plain numeric string, rounded to cents here so it
 * compares equal to what the database stored last time (the unchanged-row filter relies on it).
 */
const money = z.union([z.number(), z.string().trim().regex(/^\d{1,8}(\.\d+)?$/).transform(Number)])
  .pipe(z.number().min(0).max(99_999_999.99)).transform((n) => Math.round(n * 100) / 100);
/** Text PostgreSQL can store: text columns refuse NUL, jsonb (traits, run totals) also unpaired surrogates. */
const text = (max: number) => z.string().trim().max(max).refine(isStorableText, 'contains a NUL character or invalid Unicode');
const timestamp = z.string().max(40).refine((v) => !Number.isNaN(Date.parse(v)), 'not a date-time')
  .transform((v) => new Date(v).toISOString());
const size = z.union([text(40).min(1), z.number().finite().transform(String)]);
const count = z.number().int().min(0).max(2_147_483_647);

/** An image URL is kept only when it is a plain http(s) URL; anything else (too long too) becomes null. */
const imageUrl = z.string().nullish().transform((v) => {
  if (!v || v.length > 2048) return null;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.toString() : null;
  } catch {
    return null;
  }
});

const traitValue = z.union([text(1000), z.number().finite(), z.boolean(), z.null()]);

const stockxVariant = z.object({
  size,
  size_type: text(40).nullish(),
  lowest_ask: money.nullish(),
  total_asks: count.nullish(),
});

const stockxProduct = z.object({
  id: text(100).min(1),
  slug: text(300).nullish(),
  title: text(500).min(1).optional(),
  name: text(500).min(1).optional(),
  brand: text(200).nullish(),
  sku: text(100).nullish(),
  image: imageUrl,
  traits: z.array(z.object({ trait: text(100).min(1), value: traitValue })).max(100).nullish(),
  min_price: money.nullish(),
  max_price: money.nullish(),
  avg_price: money.nullish(),
  updated_at: timestamp.nullish(),
  variants: z.array(stockxVariant).max(1_000).nullish(),
}).refine((p) => p.title ?? p.name, { message: 'title is required', path: ['title'] });

const goatVariant = z.object({
  size,
  lowest_ask: money.nullish(),
  currency: z.string().regex(/^[A-Z]{3}$/).nullish(),
  available: z.boolean().nullish(),
  updated_at: timestamp.nullish(),
});

const goatProduct = z.object({
  id: z.union([z.number().int().positive().max(Number.MAX_SAFE_INTEGER).transform(String), z.string().regex(/^\d{1,18}$/)]),
  slug: text(300).nullish(),
  name: text(500).min(1).optional(),
  title: text(500).min(1).optional(),
  brand: text(200).nullish(),
  sku: text(100).nullish(),
  image_url: imageUrl,
  colorway: text(500).nullish(),
  release_date: text(40).nullish(),
  retail_price: money.nullish(),
  updated_at: timestamp.nullish(),
  variants: z.array(goatVariant).max(1_000).nullish(),
}).refine((p) => p.name ?? p.title, { message: 'name is required', path: ['name'] });

/** "Retail Price" trait values come as 110, "110" or "$110.00". */
function moneyOf(value: unknown): number | null {
  const s = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.replace(/[$,\s]/g, '') : '';
  const parsed = money.safeParse(s);
  return parsed.success ? parsed.data : null;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

function fromStockx(p: z.output<typeof stockxProduct>): ProductRow {
  const traits: ProductRow['traits'] = {};
  for (const t of p.traits ?? []) traits[t.trait] = t.value;
  return {
    sourceProductId: p.id,
    sku: p.sku || null,
    slug: p.slug || null,
    title: (p.title ?? p.name)!,
    brand: p.brand || null,
    imageUrl: p.image,
    traits,
    minPrice: p.min_price ?? null,
    maxPrice: p.max_price ?? null,
    avgPrice: p.avg_price ?? null,
    retailPrice: moneyOf(traits['Retail Price']),
    sourceUpdatedAt: p.updated_at ?? null,
    variants: p.variants?.map((v) => ({
      size: v.size, sizeType: v.size_type ?? '', lowestAsk: v.lowest_ask ?? null, totalAsks: v.total_asks ?? null, available: null, currency: 'USD',
    })),
  };
}

function fromGoat(p: z.output<typeof goatProduct>): ProductRow {
  const traits: ProductRow['traits'] = {};
  if (p.colorway) traits.Colorway = p.colorway;
  if (p.release_date) traits['Release Date'] = p.release_date;
  const variants = p.variants?.map((v) => ({
    size: v.size, sizeType: '', lowestAsk: v.lowest_ask ?? null, totalAsks: null, available: v.available ?? null, currency: v.currency ?? 'USD',
  }));
  // GOAT sends no product-level prices: derive them from the asks of available sizes.
  const asks = (variants ?? []).filter((v) => v.available !== false && v.lowestAsk !== null && v.lowestAsk > 0).map((v) => v.lowestAsk!);
  const newestVariant = (p.variants ?? []).map((v) => v.updated_at).filter((v): v is string => !!v).sort().at(-1);
  return {
    sourceProductId: p.id,
    sku: p.sku || null,
    slug: p.slug || null,
    title: (p.name ?? p.title)!,
    brand: p.brand || null,
    imageUrl: p.image_url,
    traits,
    minPrice: asks.length ? Math.min(...asks) : null,
    maxPrice: asks.length ? Math.max(...asks) : null,
    avgPrice: asks.length ? round2(asks.reduce((a, b) => a + b, 0) / asks.length) : null,
    retailPrice: p.retail_price ?? null,
    sourceUpdatedAt: p.updated_at ?? newestVariant ?? null,
    variants,
  };
}

/** A short, bounded description of what is wrong with an item, for the skipped list. */
function describe(error: z.ZodError): string {
  const parts = error.issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(item)'}: ${i.message}`);
  return `malformed item: ${parts.join('; ')}${error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : ''}`.slice(0, 300);
}

/** The item's id for reports, when it has a usable one; else where it was found. */
export function itemId(raw: unknown, where: string): string {
  const id = raw && typeof raw === 'object' ? (raw as { id?: unknown }).id : undefined;
  const s = typeof id === 'string' || typeof id === 'number' ? String(id) : '';
  // The report goes to jsonb (run totals, audit): an id it cannot store is no id to report.
  return s.length >= 1 && s.length <= 100 && isStorableText(s) ? s : where;
}

export function parseProduct(source: Source, raw: unknown, where: string): { product: ProductRow } | { skipped: Skipped } {
  const parsed = source === 'stockx' ? stockxProduct.safeParse(raw) : goatProduct.safeParse(raw);
  if (!parsed.success) return { skipped: { reason: describe(parsed.error), id: itemId(raw, where) } };
  return { product: source === 'stockx' ? fromStockx(parsed.data as z.output<typeof stockxProduct>) : fromGoat(parsed.data as z.output<typeof goatProduct>) };
}
