// Project rules the type checker does not see. Exit 1 with file:line for each finding.
import fs from 'node:fs/promises';
import path from 'node:path';

const rules = [
  { dirs: ['tests'], re: /\b(it|test|describe)\.(only|skip|todo)\(|\bx(it|describe)\(/, why: 'focused or skipped test' },
  { dirs: ['shared', 'jobs', 'workers', 'cli'], re: /\bconsole\.(log|debug)\(/, why: 'console logging in production code (use the pino logger or the CLI io)' },
  { dirs: ['shared', 'jobs', 'workers'], re: /process\.env\.(NODE_ENV|VITEST|TEST)\b/, why: 'test switch inside production code' },
  { dirs: ['shared', 'jobs', 'workers', 'cli'], re: /:\s*any\b|as any\b/, why: '`any` (use unknown)' },
  { dirs: ['shared', 'jobs', 'workers'], re: /query\(\s*`[^`]*\$\{(?!.*quoteIdent)[^}]*\}/, why: 'interpolated SQL (use parameters, or quoteIdent for catalog-checked names)' },
];

async function* files(dir) {
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (/\.(ts|mts|js|mjs)$/.test(e.name)) yield p;
  }
}

let problems = 0;
for (const rule of rules) {
  for (const dir of rule.dirs) {
    for await (const file of files(dir)) {
      const lines = (await fs.readFile(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        // Comments and string literals are prose, not code (the word "any" in a help text).
        const code = rule.why.startsWith('`any`')
          ? (/^\s*(\/?\*|\/\/)/.test(line) ? '' : line.replace(/'[^']*'|"[^"]*"/g, "''").replace(/\/\/.*$/, ''))
          : line;
        if (rule.re.test(code) && !line.includes('lint-ignore')) {
          console.error(`${file}:${i + 1}: ${rule.why}\n    ${line.trim()}`);
          problems++;
        }
      });
    }
  }
}
if (problems) {
  console.error(`\n${problems} problem(s)`);
  process.exitCode = 1;
} else {
  console.log('lint: ok');
}
