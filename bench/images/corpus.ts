// Photo-like 2000×1500 JPEGs for the images benchmark, generated once and cached on disk.
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import sharp from 'sharp';

export const CORPUS_DIR = path.join(os.tmpdir(), 'fleet-bench-images-v1');

/** Smooth colour fields with grain: compresses like a photo (~0.8 MB at q88), not like a flat fill. */
async function photo(seed: number, width = 2000, height = 1500): Promise<Buffer> {
  const blobs = await sharp({ create: { width: width / 25, height: height / 25, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 80 } } })
    .png().toBuffer();
  const grain = await sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 12 } } })
    .png().toBuffer();
  return sharp(blobs)
    .resize(width, height, { kernel: 'cubic' })
    .composite([{ input: grain, blend: 'overlay' }])
    .modulate({ hue: (seed * 47) % 360, saturation: 1.2 })
    .jpeg({ quality: 88 })
    .toBuffer();
}

/** Paths of n corpus files, generating the missing ones. */
export async function ensureCorpus(n: number, log: (l: string) => void): Promise<string[]> {
  await fs.mkdir(CORPUS_DIR, { recursive: true });
  const files = Array.from({ length: n }, (_, i) => path.join(CORPUS_DIR, `photo-${String(i).padStart(4, '0')}.jpg`));
  const missing: string[] = [];
  for (const f of files) if (!(await fs.stat(f).catch(() => undefined))) missing.push(f);
  if (missing.length) {
    log(`generating ${missing.length} photo-like 2000×1500 JPEGs in ${CORPUS_DIR} (cached for next runs)…`);
    let next = 0;
    await Promise.all([0, 1].map(async () => {
      while (next < missing.length) {
        const f = missing[next++]!;
        const tmp = `${f}.${process.pid}.tmp`;
        await fs.writeFile(tmp, await photo(files.indexOf(f)));
        await fs.rename(tmp, f);
      }
    }));
  }
  return files;
}
