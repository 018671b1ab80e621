// The images bucket's layout, shared by the job that writes it (image-migration) and the
// one that cleans it (image-orphans): `<table>/<id>/<sha256-of-source>-<variant>.<ext>`.
import type { Config } from './config.ts';

export const IMAGE_TABLES = ['inventory', 'products', 'designs'] as const;
export type ImageTable = (typeof IMAGE_TABLES)[number];

export interface ImageTableSpec {
  /** SQL type of the id column: ids arrive as text and are cast to it. */
  idType: 'bigint' | 'uuid';
  idPattern: RegExp;
  /** Download cap: user uploads (designs, like avatars) get the smaller one (SPEC §6). */
  maxBytes: number;
}

const MB = 1024 * 1024;
export const IMAGE_TABLE_SPECS: Record<ImageTable, ImageTableSpec> = {
  inventory: { idType: 'bigint', idPattern: /^[1-9]\d{0,18}$/, maxBytes: 10 * MB },
  products: { idType: 'bigint', idPattern: /^[1-9]\d{0,18}$/, maxBytes: 10 * MB },
  designs: { idType: 'uuid', idPattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, maxBytes: 5 * MB },
};

/** WebP widths (never upscaled) and the variant the row's image_url points at. */
export const VARIANT_WIDTHS = [320, 640, 1280] as const;
export const CANONICAL_WIDTH = 1280;

export function variantKey(table: ImageTable, id: string, sha256: string, variant: number | 'full', ext: string): string {
  return `${table}/${id}/${sha256}-${variant}.${ext}`;
}

/** The prefix every variant of one source image shares. */
export function imagePrefix(table: ImageTable, id: string, sha256: string): string {
  return `${table}/${id}/${sha256}-`;
}

export interface ParsedKey { table: ImageTable; id: string; sha256: string; variant: string }

export function parseVariantKey(key: string): ParsedKey | undefined {
  const m = /^(inventory|products|designs)\/([^/]+)\/([0-9a-f]{64})-([0-9a-z]+)\.[0-9a-z]+$/.exec(key);
  if (!m) return undefined;
  return { table: m[1] as ImageTable, id: m[2]!, sha256: m[3]!, variant: m[4]! };
}

/**
 * Base of public image URLs: IMAGE_PUBLIC_BASE_URL, else the bucket on the S3 endpoint
 * (path-style), which is what the embedded local server serves.
 */
export function publicBaseUrl(config: Config): string {
  const base = config.imagePublicBaseUrl
    ?? `${config.s3.endpoint ?? `http://127.0.0.1:${config.s3.embeddedPort}`}/${config.imageBucket}`;
  return `${base.replace(/\/+$/, '')}/`;
}

export function publicUrl(config: Config, key: string): string {
  return publicBaseUrl(config) + key;
}

/**
 * Advisory locks (any constants, the same in every process). Migration holds the bucket lock
 * shared while it may point rows at objects; orphan deletion takes it exclusively, so an
 * object a migration just found and reused is never deleted under it.
 */
export const IMAGE_BUCKET_LOCK = 7_311_942_050;
/** Held by an image-migration scan, so scheduled runs never overlap. */
export const IMAGE_SCAN_LOCK = 7_311_942_051;
