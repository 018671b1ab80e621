import crypto from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it, expect } from 'vitest';
import { encryptStream, decryptStream, keyId, parseEncryptionKey, DecryptionError } from '../../jobs/backup/crypto.ts';

const CHUNK = 4096;
const key = crypto.randomBytes(32);

async function run(input: Buffer, ...stages: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const out: Buffer[] = [];
  // Feed in uneven pieces so chunk boundaries never line up with writes.
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += 1 + (i % 1500)) pieces.push(input.subarray(i, i + 1 + (i % 1500)));
  await pipeline(Readable.from(pieces), ...(stages as [NodeJS.ReadWriteStream]), new Writable({ write(c, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

const encrypt = (b: Buffer, k = key) => run(b, encryptStream(k, CHUNK));
const decrypt = (b: Buffer, k = key) => run(b, decryptStream(k));

describe('backup encryption (fleet-stream-v1)', () => {
  it('round-trips every size around the chunk boundaries', async () => {
    for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3.5 * CHUNK, 50_000]) {
      const plain = crypto.randomBytes(size);
      const sealed = await encrypt(plain);
      // header + one tag per chunk; an exact multiple ends with a full chunk marked last, empty input with an empty one.
      expect(sealed.length).toBe(36 + plain.length + 16 * Math.max(1, Math.ceil(plain.length / CHUNK)));
      expect(sealed.subarray(0, 8).toString('latin1')).toBe('FLEETBK\x01');
      expect((await decrypt(sealed)).equals(plain)).toBe(true);
    }
  });

  it('encrypts the same input differently each time (random salt per backup)', async () => {
    const plain = Buffer.alloc(10_000, 7);
    expect((await encrypt(plain)).equals(await encrypt(plain))).toBe(false);
  });

  it('refuses a wrong key by its key id, before decrypting anything', async () => {
    const sealed = await encrypt(crypto.randomBytes(10_000));
    const other = crypto.randomBytes(32);
    await expect(decrypt(sealed, other)).rejects.toThrow(new RegExp(`encrypted with key id ${keyId(key)}; BACKUP_ENCRYPTION_KEY has key id ${keyId(other)}`));
  });

  it('fails authentication on a flipped bit, truncation at a chunk boundary, a dropped or appended chunk', async () => {
    const plain = crypto.randomBytes(3 * CHUNK + 100);
    const sealed = await encrypt(plain);
    const flipped = Buffer.from(sealed);
    flipped[36 + CHUNK + 40]! ^= 1;
    await expect(decrypt(flipped)).rejects.toBeInstanceOf(DecryptionError);
    const sealedChunk = CHUNK + 16;
    await expect(decrypt(sealed.subarray(0, 36 + 2 * sealedChunk))).rejects.toThrow(/failed authentication/);
    const dropped = Buffer.concat([sealed.subarray(0, 36 + sealedChunk), sealed.subarray(36 + 2 * sealedChunk)]);
    await expect(decrypt(dropped)).rejects.toThrow(/failed authentication/);
    await expect(decrypt(Buffer.concat([sealed, sealed.subarray(36, 36 + sealedChunk)]))).rejects.toThrow(/failed authentication/);
    await expect(decrypt(sealed.subarray(0, 20))).rejects.toThrow(/truncated/);
    await expect(decrypt(Buffer.from('PGDMP custom format, not encrypted at all'))).rejects.toThrow(/bad header/);
  });

  it('reads the key as 64 hex digits or base64 and names a bad one', () => {
    const raw = crypto.randomBytes(32);
    expect(parseEncryptionKey(raw.toString('hex')).equals(raw)).toBe(true);
    expect(parseEncryptionKey(raw.toString('base64')).equals(raw)).toBe(true);
    expect(() => parseEncryptionKey('c2hvcnQ=')).toThrow(/BACKUP_ENCRYPTION_KEY must be 32 bytes/);
  });
});
