import crypto from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/*
 * Client-side encryption of backup objects: AES-256-GCM in independently authenticated
 * chunks, so a dump of any size streams through in constant memory and nothing unverified
 * ever reaches pg_restore. Format "fleet-stream-v1" (the STREAM construction, as in age
 * and Tink's streaming AEAD):
 *
 *   header (36 bytes) = magic "FLEETBK" | version 0x01 | chunk size (uint32 BE)
 *                       | key id (8 bytes) | salt (16 random bytes)
 *   chunk i           = AES-256-GCM(file key, nonce_i, aad = header, plaintext_i) | tag (16 bytes)
 *   file key          = HKDF-SHA256(BACKUP_ENCRYPTION_KEY, salt, "stockroom-fleet backup v1")
 *   nonce_i           = i as 11-byte big-endian counter | 0x01 on the last chunk, else 0x00
 *
 * Every chunk but the last holds exactly `chunk size` plaintext bytes; the last holds
 * 0..chunk size and is always present, so truncation at a chunk boundary, reordering and
 * appended data all fail authentication. The key id (first 8 bytes of
 * HMAC-SHA256(key, "stockroom-fleet backup key id")) lets a restore refuse a wrong key by
 * name before downloading anything; it reveals nothing usable about the key.
 */

export const ENCRYPTION_SCHEME = 'fleet-stream-v1';
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
const MAGIC = Buffer.from('FLEETBK\x01', 'latin1');
const HEADER_LENGTH = 36;
const TAG_LENGTH = 16;
const INFO = Buffer.from('stockroom-fleet backup v1');

export class DecryptionError extends Error {
  override name = 'DecryptionError';
}

/** The 32-byte key from BACKUP_ENCRYPTION_KEY (64 hex digits or base64), as config validated it. */
export function parseEncryptionKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new Error('BACKUP_ENCRYPTION_KEY must be 32 bytes, as 64 hex digits or base64');
  return key;
}

export function keyId(key: Buffer): string {
  return crypto.createHmac('sha256', key).update('stockroom-fleet backup key id').digest().subarray(0, 8).toString('hex');
}

function fileKey(key: Buffer, salt: Buffer): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', key, salt, INFO, 32));
}

function nonce(index: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(index, 5, 6); // 2^48 chunks of 1 MiB is far beyond any dump
  n[11] = last ? 1 : 0;
  return n;
}

/** Holds incoming buffers and hands out exact-sized slices without re-concatenating everything. */
class Buffers {
  private list: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length) { this.list.push(b); this.length += b.length; }
  }
  take(n: number): Buffer {
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = this.list[0]!;
      if (head.length <= need) { out.push(head); this.list.shift(); need -= head.length; }
      else { out.push(head.subarray(0, need)); this.list[0] = head.subarray(need); need = 0; }
    }
    this.length -= n;
    return out.length === 1 ? out[0]! : Buffer.concat(out, n);
  }
}

/** Encrypts a byte stream into the format above. */
export function encryptStream(key: Buffer, chunkSize = DEFAULT_CHUNK_SIZE): Transform {
  const salt = crypto.randomBytes(16);
  const header = Buffer.alloc(HEADER_LENGTH);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(chunkSize, 8);
  Buffer.from(keyId(key), 'hex').copy(header, 12);
  salt.copy(header, 20);
  const k = fileKey(key, salt);
  const pending = new Buffers();
  let index = 0;
  let started = false;
  const seal = (plain: Buffer, last: boolean): Buffer => {
    const cipher = crypto.createCipheriv('aes-256-gcm', k, nonce(index++, last));
    cipher.setAAD(header);
    const body = cipher.update(plain);
    cipher.final();
    const parts = [body, cipher.getAuthTag()];
    if (!started) { started = true; parts.unshift(header); }
    return Buffer.concat(parts);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      pending.push(chunk);
      // Strictly more than one chunk buffered: the next one is certainly not the last.
      while (pending.length > chunkSize) this.push(seal(pending.take(chunkSize), false));
      cb();
    },
    flush(cb) {
      this.push(seal(pending.take(pending.length), true));
      cb();
    },
  });
}

export function readHeader(header: Buffer): { chunkSize: number; keyId: string; salt: Buffer } {
  if (header.length < HEADER_LENGTH || !header.subarray(0, 8).equals(MAGIC)) {
    throw new DecryptionError(`not an encrypted backup of format ${ENCRYPTION_SCHEME} (bad header)`);
  }
  const chunkSize = header.readUInt32BE(8);
  if (chunkSize < 1024 || chunkSize > 64 * 1024 * 1024) throw new DecryptionError(`bad chunk size ${chunkSize} in header`);
  return { chunkSize, keyId: header.subarray(12, 20).toString('hex'), salt: header.subarray(20, 36) };
}

/** Decrypts the format above; each chunk is authenticated before any of it is passed on. */
export function decryptStream(key: Buffer): Transform {
  const pending = new Buffers();
  let header: Buffer | undefined;
  let k: Buffer | undefined;
  let chunkSize = 0;
  let index = 0;
  const open = (sealed: Buffer, last: boolean): Buffer => {
    const decipher = crypto.createDecipheriv('aes-256-gcm', k!, nonce(index++, last));
    decipher.setAAD(header!);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
    const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
    try {
      decipher.final();
    } catch {
      throw new DecryptionError(`backup chunk ${index - 1} failed authentication: wrong BACKUP_ENCRYPTION_KEY, or the object was corrupted or truncated`);
    }
    return plain;
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        pending.push(chunk);
        if (!header) {
          if (pending.length < HEADER_LENGTH) return cb();
          header = pending.take(HEADER_LENGTH);
          const h = readHeader(header);
          if (h.keyId !== keyId(key)) {
            throw new DecryptionError(`backup was encrypted with key id ${h.keyId}; BACKUP_ENCRYPTION_KEY has key id ${keyId(key)}`);
          }
          chunkSize = h.chunkSize;
          k = fileKey(key, h.salt);
        }
        while (pending.length > chunkSize + TAG_LENGTH) this.push(open(pending.take(chunkSize + TAG_LENGTH), false));
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb) {
      try {
        if (!header || pending.length < TAG_LENGTH) throw new DecryptionError('encrypted backup is truncated');
        this.push(open(pending.take(pending.length), true));
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}
