import crypto from 'node:crypto';

// Object layout in BACKUP_BUCKET: pg/<backup id>.dump and pg/<backup id>.manifest.json.
// Backup ids are UUIDv7 (time-ordered), so key order is time order: "latest" is the last
// manifest of a listing, and a restore needs nothing but the bucket (the database holding
// the backups table may be the thing that was lost). One fleet per bucket.

export const BACKUP_PREFIX = 'pg/';
const MANIFEST_SUFFIX = '.manifest.json';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, variant 10, random rest. */
export function newBackupId(now = Date.now()): string {
  const b = crypto.randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function isBackupId(text: string): boolean {
  return UUID.test(text);
}

export function dumpKey(id: string): string {
  return `${BACKUP_PREFIX}${id}.dump`;
}

export function manifestKey(id: string): string {
  return `${BACKUP_PREFIX}${id}${MANIFEST_SUFFIX}`;
}

/** The backup id a manifest key names, or undefined for any other key. */
export function idOfManifestKey(key: string): string | undefined {
  if (!key.startsWith(BACKUP_PREFIX) || !key.endsWith(MANIFEST_SUFFIX)) return undefined;
  const id = key.slice(BACKUP_PREFIX.length, -MANIFEST_SUFFIX.length);
  return isBackupId(id) ? id : undefined;
}
