// Keeps secrets out of logs, audit rows and error messages.

const SECRET_KEY = /(password|passwd|secret|token|apikey|api_key|authorization|cookie|accesskeyid|encryptionkey|privatekey|credentials?)$/i;

/** Masks the password in any URL-looking substring: scheme://user:pass@host → scheme://user:***@host. */
export function maskUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):([^@\s]+)@/gi, '$1:***@');
}

/** Deep copy of a JSON-like value with secret-named keys replaced and URL credentials masked. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 20) return '[too deep]';
  if (typeof value === 'string') return maskUrlCredentials(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k.replace(/[-_]/g, '')) ? '[redacted]' : redact(v, depth + 1);
    }
    return out;
  }
  return value;
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
