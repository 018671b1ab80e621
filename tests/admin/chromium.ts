import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

// Debian's Chromium (apt-get install chromium; .ci/packages), driven by playwright-core:
// no browser download. A fresh profile per run, and nothing leaves the machine.
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'fleet-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  // bull-board links a web font; the test must not depend on (or wait for) the internet.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      await fs.rm(profile, { recursive: true, force: true });
    },
  };
}

/** Screenshots land in test-artifacts/ (kept by CI, ignored by git). */
export async function artifactPath(name: string): Promise<string> {
  const dir = path.resolve('test-artifacts', 'admin-ui');
  await fs.mkdir(dir, { recursive: true });
  return path.join(dir, name);
}

/** UPDATE_SCREENSHOTS=1: also copy the screenshots to docs/screenshots/ for the README. */
export async function publishScreenshots(names: string[]): Promise<void> {
  if (process.env.UPDATE_SCREENSHOTS !== '1') return;
  const dir = path.resolve('docs', 'screenshots');
  await fs.mkdir(dir, { recursive: true });
  for (const name of names) await fs.copyFile(await artifactPath(name), path.join(dir, name));
}
