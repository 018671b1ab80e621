// The image type from its first bytes. The extension and Content-Type are the sender's
// claim; only the bytes say what a decoder will actually parse.

export type ImageKind = 'jpeg' | 'png' | 'gif' | 'webp' | 'avif';

export const OUTPUT_OF: Record<ImageKind, { ext: string; contentType: string }> = {
  jpeg: { ext: 'jpg', contentType: 'image/jpeg' },
  png: { ext: 'png', contentType: 'image/png' },
  gif: { ext: 'gif', contentType: 'image/gif' },
  webp: { ext: 'webp', contentType: 'image/webp' },
  avif: { ext: 'avif', contentType: 'image/avif' },
};

export type Sniffed = { kind: ImageKind } | { refused: string };

const ascii = (b: Buffer, start: number, end: number) => b.subarray(start, end).toString('latin1');

function isMostlyText(head: Buffer): boolean {
  if (head.length === 0) return false;
  let printable = 0;
  for (const byte of head) if (byte === 9 || byte === 10 || byte === 13 || (byte >= 32 && byte < 127) || byte >= 0xc2) printable++;
  return printable / head.length > 0.95;
}

export function sniff(body: Buffer): Sniffed {
  if (body.length < 12) return { refused: `not an image: only ${body.length} bytes` };
  if (body[0] === 0xff && body[1] === 0xd8 && body[2] === 0xff) return { kind: 'jpeg' };
  if (body.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return { kind: 'png' };
  if (/^GIF8[79]a$/.test(ascii(body, 0, 6))) return { kind: 'gif' };
  if (ascii(body, 0, 4) === 'RIFF' && ascii(body, 8, 12) === 'WEBP') return { kind: 'webp' };
  if (ascii(body, 4, 8) === 'ftyp') {
    const boxSize = Math.min(body.readUInt32BE(0), body.length, 64);
    const brands = [ascii(body, 8, 12)];
    for (let i = 16; i + 4 <= boxSize; i += 4) brands.push(ascii(body, i, i + 4));
    if (brands.includes('avif') || brands.includes('avis')) return { kind: 'avif' };
    return { refused: `unsupported image type: ISO media "${brands[0]}" (HEIC and video are not accepted)` };
  }
  // Before the text check: a PDF's first kilobyte is often all text.
  if (ascii(body, 0, 5) === '%PDF-') return { refused: 'not an image: PDF document' };
  const head = body.subarray(0, 1024);
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (isMostlyText(head)) {
    // SVG can carry scripts and external references; it is never rasterised here.
    if (text.includes('<svg')) return { refused: 'SVG images are refused (may carry scripts; type from magic bytes)' };
    if (text.startsWith('<!doctype html') || text.startsWith('<html')) return { refused: 'not an image: the body is an HTML page' };
    return { refused: 'not an image: the body is text' };
  }
  if (ascii(body, 0, 4) === 'II*\0' || ascii(body, 0, 4) === 'MM\0*') return { refused: 'unsupported image type: TIFF' };
  if (ascii(body, 0, 2) === 'BM') return { refused: 'unsupported image type: BMP' };
  return { refused: `not a recognised image type (first bytes ${body.subarray(0, 4).toString('hex')})` };
}
