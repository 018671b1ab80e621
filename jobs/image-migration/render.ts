// Decoding and encoding with sharp: header checks before any pixel is decoded, then every
// output derived from one decode (EXIF-oriented, sRGB, metadata stripped).
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

/**
 * With failOn 'warning', libvips usually names the warning ("premature end of JPEG image"),
 * but while other images decode at the same time it loses it about one time in ten (seen
 * with sharp 0.35) and says only this. Nothing else makes a decoder warn: say what it means.
 */
const GENERIC_WARNING = /^Warning treated as error due to failOn setting$/;

function conciseVipsError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length === 1 && GENERIC_WARNING.test(lines[0]!)) return 'corrupt or truncated image data (the decoder warned)';
  return lines.slice(0, 2).join('; ').slice(0, 300);
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
 * A factory of pipelines over the decoded image. A still image is decoded exactly once
 * (upright, sRGB) into raw pixels that every output then encodes from: 10% less CPU than
 * cloning the input pipeline, which decodes again per output. Animations keep the cloned
 * pipeline so frame delays and loop count travel to the encoders.
 */
async function decoded(body: Buffer, p: Plan): Promise<() => Sharp> {
  const input = sharp(body, {
    failOn: 'warning',
    limitInputPixels: MAX_PIXELS,
    sequentialRead: true,
    ...(p.frames > 1 ? { pages: p.frames } : {}),
  }).rotate().toColourspace('srgb').timeout({ seconds: PROCESS_TIMEOUT_S });
  if (p.frames > 1) return () => input.clone();
  const { data, info } = await input.raw().toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: info.channels };
  return () => sharp(data, { raw }).timeout({ seconds: PROCESS_TIMEOUT_S });
}

async function encode(img: Sharp): Promise<Buffer> {
  try {
    return await img.toBuffer();
  } catch (err) {
    throw new ImageRefusedError(`could not be decoded: ${conciseVipsError(err)}`);
  }
}

/**
 * WebP at each width (capped at the source width: never upscaled) plus the full-size
 * fallback, each handed to `emit` as soon as it is encoded so its upload can start while
 * the rest encode. Errors of `emit` pass through unchanged; sharp's become refusals.
 */
export async function render(body: Buffer, p: Plan, emit: (r: Rendered) => Promise<void>): Promise<void> {
  const upright = p.uprightWidth;
  const targets = [...new Set(VARIANT_WIDTHS.map((w) => Math.min(w, upright)))];
  let pipeline: () => Sharp;
  try {
    pipeline = await decoded(body, p);
  } catch (err) {
    throw new ImageRefusedError(`${p.kind} could not be decoded: ${conciseVipsError(err)}`);
  }
  await Promise.all([
    encode(encodeFull(pipeline(), p.kind)).then((full) => emit({ variant: 'full', ...OUTPUT_OF[p.kind], body: full, width: upright })),
    ...targets.map(async (target) => {
      const img = pipeline();
      if (target < upright) img.resize({ width: target });
      const webp = await encode(img.webp({ quality: 80 }));
      // Widths the source does not reach all get the source-width encoding.
      await Promise.all(VARIANT_WIDTHS.filter((w) => Math.min(w, upright) === target)
        .map((w) => emit({ variant: w, ext: 'webp', contentType: 'image/webp', body: webp, width: target })));
    }),
  ]);
}
