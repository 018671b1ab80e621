import { isStorableText, toStorableText } from './text.ts';

// Keeps secrets out of logs, audit rows and error messages.

const SECRET_KEY = /(password|passwd|secret|token|apikey|api_key|authorization|cookie|accesskeyid|encryptionkey|privatekey|credentials?)$/i;

/** Masks the password in any URL-looking substring: scheme://user:pass@host → scheme://user:***@host. */
export function maskUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):([^@\s]+)@/gi, '$1:***@');
}

const isSecretKey = (key: string) => SECRET_KEY.test(key.replace(/[-_]/g, ''));

/**
 * Deep copy of a JSON-like value with secret-named keys replaced and URL credentials masked;
 * its text is storable in PostgreSQL (NUL and unpaired surrogates become U+FFFD), and values
 * with toJSON (dates) become what JSON makes of them.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 20) return '[too deep]';
  if (typeof value === 'string') return storableString(value);
  if (value === null || typeof value !== 'object') return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return redact(JSON.parse(JSON.stringify(value) ?? 'null'), depth);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[storableString(k)] = isSecretKey(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

/**
 * Pino redaction paths: the places a secret could ride along in a log line. Explicit paths
 * only: wildcard paths (`*.password`) double the cost of every log call, and payloads or
 * configs are never logged raw (they go through redact() first).
 */
export const LOG_REDACT_PATHS = [
  'password', 'token', 'apiKey', 'secret', 'secretAccessKey', 'authorization', 'cookie', 'encryptionKey',
  'headers.authorization', 'headers.cookie', 'req.headers.authorization', 'req.headers.cookie',
  'config.s3.secretAccessKey', 'config.kicksdb.apiKey', 'config.backupEncryptionKey',
];

/**
 * JSON text for a jsonb column (job_runs payload, result, detail): secrets redacted, strings
 * made storable (jsonb refuses NUL and unpaired surrogates, and one refused row would fail
 * its whole batch), and `{ truncated, bytes }` instead of a value past maxBytes. The audit
 * calls this for every job, so a value with nothing to change is stringified as it is,
 * without a copy. null for null or undefined.
 */
export function auditJson(value: unknown, maxBytes: number): string | null {
  if (value === undefined || value === null) return null;
  const budget = { left: maxBytes };
  const json = isStorable(value, 0, budget) ? JSON.stringify(value) : budget.left >= 0 ? JSON.stringify(redact(value)) : undefined;
  if (json === undefined) return budget.left >= 0 ? null : truncated(maxBytes - budget.left);
  return json.length > maxBytes ? truncated(json.length) : json;
}

const truncated = (bytes: number) => JSON.stringify({ truncated: true, bytes });

/** Plain text jsonb can hold as it is: no NUL, no unpaired surrogate, no URL credentials. */
function storableText(s: string): boolean {
  return isStorableText(s) && !(s.includes('://') && s.includes('@'));
}

/** Text PostgreSQL can store (no NUL, no unpaired surrogate) with URL credentials masked. */
export function storableString(s: string): string {
  return maskUrlCredentials(toStorableText(s));
}

/** True when value can go to JSON.stringify unchanged; counts its approximate size down. */
function isStorable(value: unknown, depth: number, budget: { left: number }): boolean {
  if (typeof value === 'string') {
    budget.left -= value.length + 2;
    return storableText(value);
  }
  if (value === null || typeof value !== 'object') {
    budget.left -= 8;
    return true;
  }
  if (depth > 20 || budget.left < 0) return false;
  if (Array.isArray(value)) {
    budget.left -= 2;
    for (const v of value) if (!isStorable(v, depth + 1, budget)) return false;
    return true;
  }
  if (value instanceof Date) {
    budget.left -= 26;
    return true;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false; // let redact() see what it becomes
  budget.left -= 2;
  for (const k in value) {
    if (!Object.prototype.hasOwnProperty.call(value, k)) continue;
    budget.left -= k.length + 4;
    if (!storableText(k) || isSecretKey(k)) return false;
    if (!isStorable((value as Record<string, unknown>)[k], depth + 1, budget)) return false;
  }
  return true;
}
