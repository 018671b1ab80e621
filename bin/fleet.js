#!/usr/bin/env node
// The `fleet` CLI. Runs the compiled CLI from dist/ when built, otherwise the TypeScript
// sources through tsx, so `npx fleet` works straight after `npm ci`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'dist', 'cli', 'main.js');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
let entry = built;
if (!existsSync(built) || process.env.FLEET_FROM_SOURCE) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = path.join(root, 'cli', 'main.ts');
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main();
