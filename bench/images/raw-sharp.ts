// The baseline: a plain sharp loop over files on local disk, producing what the job
// produces (WebP 320/640/1280, never upscaled, plus a full-size JPEG; EXIF-oriented, sRGB,
// metadata stripped), written to local disk. Run as its own process:
//   node --import tsx bench/images/raw-sharp.ts <outDir> <parallel> <file>...
// Prints one JSON line: { seconds, cpuSeconds, images, bytesOut, peakRssMb }.
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

sharp.cache(false);
const [outDir = '.', parallel = '1', ...files] = process.argv.slice(2);
await fs.mkdir(outDir, { recursive: true });

// Decoded once into upright sRGB pixels, every output encoded from those (the fastest
// way we found; cloning the input pipeline decodes again per output).
async function one(file: string): Promise<number> {
  const input = await fs.readFile(file);
  const { data, info } = await sharp(input, { failOn: 'warning', limitInputPixels: 50_000_000, sequentialRead: true })
    .rotate().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const pixels = () => sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  const name = path.basename(file, '.jpg');
  const outs = await Promise.all([
    pixels().jpeg({ quality: 85 }).toFile(path.join(outDir, `${name}-full.jpg`)),
    ...[320, 640, 1280].map((w) => {
      const img = pixels();
      if (w < info.width) img.resize({ width: w });
      return img.webp({ quality: 80 }).toFile(path.join(outDir, `${name}-${w}.webp`));
    }),
  ]);
  return outs.reduce((n, o) => n + o.size, 0);
}

const started = performance.now();
const cpu0 = process.cpuUsage();
let next = 0;
let bytesOut = 0;
await Promise.all(Array.from({ length: Number(parallel) }, async () => {
  while (next < files.length) {
    const bytes = await one(files[next++]!);
    bytesOut += bytes;
  }
}));
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const status = await fs.readFile('/proc/self/status', 'utf8').catch(() => '');
const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
const peakRssMb = hwm ? Number(hwm[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
console.log(JSON.stringify({ seconds, cpuSeconds, images: files.length, bytesOut, peakRssMb, sharpConcurrency: sharp.concurrency() }));
