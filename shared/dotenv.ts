import fs from 'node:fs';

/** Loads ./.env into process.env when present; variables already set win (as with docker/env). */
export function loadDotEnv(file = '.env'): void {
  if (!fs.existsSync(file)) return;
  const before = { ...process.env };
  process.loadEnvFile(file);
  Object.assign(process.env, before);
}
