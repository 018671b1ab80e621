#!/usr/bin/env node
// The `fleet` CLI. Runs the TypeScript sources through tsx, so `npx fleet` works straight
// after `npm ci` and never runs a stale build; a deployment that ships only dist/ (or sets
// FLEET_USE_DIST=1) runs the compiled CLI instead.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'dist', 'cli', 'main.js');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const source = path.join(root, 'cli', 'main.ts');
let entry = built;
if (existsSync(source) && process.env.FLEET_USE_DIST !== '1') {
  const { register } = await import('tsx/esm/api');
  register();
  entry = source;
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main();
