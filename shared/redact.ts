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

/** Pino redaction paths: the usual places a secret could ride along in a log line. */
export const LOG_REDACT_PATHS = [
  'password', '*.password', 'token', '*.token', 'apiKey', '*.apiKey', 'secretAccessKey', '*.secretAccessKey',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', 'req.headers.cookie',
  'config.s3.secretAccessKey', 'config.kicksdb.apiKey', 'config.backupEncryptionKey', 'encryptionKey', '*.encryptionKey',
];
