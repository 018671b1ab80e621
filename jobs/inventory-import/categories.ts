// Category from title (SPEC §4). The rules are data (categories.json); this module only
// compiles them into regular expressions and applies the first one that matches.
import fs from 'node:fs';
import { z } from 'zod';

const rulesFile = z.strictObject({
  $comment: z.string().optional(),
  rules: z.array(z.strictObject({
    // Staged verbatim through COPY, so no tabs, line breaks or backslashes.
    category: z.string().min(1).max(100).regex(/^[^\t\n\r\\\0]+$/, 'no tabs, line breaks or backslashes'),
    all: z.array(z.array(z.string().trim().min(1).max(60)).min(1)),
  })).min(1),
});
export type CategoryRules = z.output<typeof rulesFile>['rules'];

export interface Categorizer {
  /** The category of the first rule whose every keyword group matches the title. */
  categorize(title: string): string;
  readonly categories: readonly string[];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One regex per keyword group: any keyword at the start of a word, case-insensitive. */
function groupRegex(keywords: string[]): RegExp {
  const alternatives = keywords.map((k) => k.toLowerCase().split(/\s+/).map(escape).join('[\\s_-]+'));
  // "Start of a word" = not preceded by a letter, so "10Pcs Charms" and "Mini-Charm" match.
  return new RegExp(`(?<!\\p{L})(?:${alternatives.join('|')})`, 'iu');
}

export function compileRules(rules: CategoryRules): Categorizer {
  const last = rules[rules.length - 1];
  if (!last || last.all.length !== 0) throw new Error('Category rules: the last rule must have no keywords (the fallback category)');
  const compiled = rules.map((r) => ({ category: r.category, groups: r.all.map(groupRegex) }));
  return {
    categories: [...new Set(rules.map((r) => r.category))],
    categorize(title) {
      for (const rule of compiled) {
        let ok = true;
        for (const g of rule.groups) if (!g.test(title)) { ok = false; break; }
        if (ok) return rule.category;
      }
      return last.category; // unreachable: the fallback has no groups
    },
  };
}

/** Loads and validates a rules file; a bad file fails at start with the reason. */
export function loadRules(file: URL | string = new URL('./categories.json', import.meta.url)): Categorizer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`Cannot read category rules ${String(file)}: ${(err as Error).message}`);
  }
  const result = rulesFile.safeParse(parsed);
  if (!result.success) {
    throw new Error(`Invalid category rules ${String(file)}: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return compileRules(result.data.rules);
}
