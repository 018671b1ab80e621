// After tsc: copy what the compiled code reads at run time (SQL, JSON, HTML, CSS) into dist/.
import fs from 'node:fs/promises';
import path from 'node:path';

const ASSET = /\.(sql|json|html|css|svg|png)$/;
async function copy(dir) {
  for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const from = path.join(dir, entry.name);
    if (entry.isDirectory()) await copy(from);
    else if (ASSET.test(entry.name)) {
      const to = path.join('dist', from);
      await fs.mkdir(path.dirname(to), { recursive: true });
      await fs.copyFile(from, to);
    }
  }
}
for (const dir of ['migrations', 'shared', 'jobs', 'workers', 'cli']) await copy(dir);
console.log('assets copied to dist/');
