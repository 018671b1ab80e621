// Decoding and encoding with sharp: header checks before any pixel is decoded, then every
// output derived from one pipeline (EXIF-oriented, sRGB, metadata stripped).
import sharp, { type Metadata, type Sharp } from 'sharp';
import { VARIANT_WIDTHS } from '../../shared/image-keys.ts';
import { OUTPUT_OF, type ImageKind } from './sniff.ts';

export const MAX_PIXELS = 50_000_000;
export const MAX_FRAMES = 60;
/** libvips stops a pipeline that runs longer than this (a pathological but small file). */
export const PROCESS_TIMEOUT_S = 30;

// Cached libvips operations only hold memory here: every image is new.
sharp.cache(false);

export class ImageRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageRefusedError';
  }
}

export interface Plan {
  kind: ImageKind;
  width: number;
  /** Height of one frame. */
  height: number;
  /** Frames decoded: 1, or up to MAX_FRAMES of an animation within the pixel budget. */
  frames: number;
  sourceFrames: number;
  /** Width once EXIF orientation is applied (portrait photos are stored sideways). */
  uprightWidth: number;
}

/** Reads only the header: refuses bombs and mismatches before any pixel is decoded. */
export async function plan(body: Buffer, kind: ImageKind): Promise<Plan> {
  let meta: Metadata;
  try {
    meta = await sharp(body, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageRefusedError(`unreadable ${kind} header: ${conciseVipsError(err)}`);
  }
  if (meta.format !== kind && !(kind === 'avif' && meta.format === 'heif')) {
    throw new ImageRefusedError(`the bytes say ${kind} but the decoder reads ${meta.format ?? 'nothing'}`);
  }
  const width = meta.width ?? 0;
  const sourceFrames = meta.pages ?? 1;
  const animated = (kind === 'gif' || kind === 'webp') && sourceFrames > 1;
  const height = animated ? (meta.pageHeight ?? meta.height ?? 0) : (meta.height ?? 0);
  if (width <= 0 || height <= 0) throw new ImageRefusedError('image has no dimensions');
  const pixels = width * height;
  if (pixels > MAX_PIXELS) {
    throw new ImageRefusedError(`${width}×${height} is ${(pixels / 1e6).toFixed(0)} megapixels, over the ${MAX_PIXELS / 1e6} MP limit (decompression bomb?)`);
  }
  // Every decoded frame costs memory: keep the first ones that fit the same pixel budget.
  const frames = animated ? Math.max(1, Math.min(sourceFrames, MAX_FRAMES, Math.floor(MAX_PIXELS / pixels))) : 1;
  const uprightWidth = (meta.orientation ?? 1) >= 5 ? height : width;
  return { kind, width, height, frames, sourceFrames, uprightWidth };
}

export interface Rendered {
  /** A width from VARIANT_WIDTHS, or 'full' for the fallback in the source format. */
  variant: number | 'full';
  ext: string;
  contentType: string;
  body: Buffer;
  width: number;
}

function conciseVipsError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 2).join('; ').slice(0, 300);
}

function encodeFull(img: Sharp, kind: ImageKind): Sharp {
  switch (kind) {
    case 'jpeg': return img.jpeg({ quality: 85 });
    case 'png': return img.png({ compressionLevel: 6 });
    case 'gif': return img.gif();
    case 'webp': return img.webp({ quality: 85 });
    case 'avif': return img.avif({ quality: 60, effort: 2 });
  }
}

/**
 * WebP at each width (capped at the source width: never upscaled) plus the full-size
 * fallback. One input pipeline (one read of the buffer, one orientation) cloned per output;
 * libvips shrinks JPEGs on load for the small widths, which beats resizing full pixels.
 */
export async function render(body: Buffer, p: Plan): Promise<Rendered[]> {
  const animated = p.frames > 1;
  const base = sharp(body, {
    failOn: 'warning',
    limitInputPixels: MAX_PIXELS,
    sequentialRead: true,
    ...(animated ? { pages: p.frames } : {}),
  }).rotate().toColourspace('srgb').timeout({ seconds: PROCESS_TIMEOUT_S });

  const upright = p.uprightWidth;
  const targets = [...new Set(VARIANT_WIDTHS.map((w) => Math.min(w, upright)))];

  try {
    const [full, ...webps] = await Promise.all([
      encodeFull(base.clone(), p.kind).toBuffer(),
      ...targets.map(async (w) => {
        const img = base.clone();
        if (w < upright) img.resize({ width: w });
        return { w, body: await img.webp({ quality: 80 }).toBuffer() };
      }),
    ]) as [Buffer, ...{ w: number; body: Buffer }[]];
    const out: Rendered[] = VARIANT_WIDTHS.map((w) => {
      const target = Math.min(w, upright);
      const enc = webps.find((x) => x.w === target)!;
      return { variant: w, ext: 'webp', contentType: 'image/webp', body: enc.body, width: target };
    });
    out.push({ variant: 'full', ...OUTPUT_OF[p.kind], body: full, width: upright });
    return out;
  } catch (err) {
    throw new ImageRefusedError(`${p.kind} could not be decoded: ${conciseVipsError(err)}`);
  }
}
