// Finds the metric names a PromQL expression (or a Grafana query with $variables)
// selects, so tests can check dashboards and rules only use metrics the fleet exports.

const NOT_METRICS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Grafana's macros and variables, replaced by something PromQL accepts. */
export function expandGrafana(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$\{__rate_interval\}|\$\{__interval\}/g, '1m')
    .replace(/\$\{?[A-Za-z_]\w*(?::\w+)?\}?/g, '.+');
}

export function metricNames(query: string): string[] {
  const labelValues = /^\s*label_values\(\s*([A-Za-z_:][\w:]*)\s*(?:\{[^}]*\})?\s*,/.exec(query);
  if (labelValues) return [labelValues[1]!];
  if (/^\s*label_values\(/.test(query)) return [];
  const s = expandGrafana(query)
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  // Numbers and durations (1e9, 0.95, 5m) are consumed whole, so "e9" is never a name.
  for (const m of s.matchAll(/\d[\w.]*|([A-Za-z_:][\w:]*)/g)) {
    const name = m[1];
    if (!name || NOT_METRICS.has(name.toLowerCase())) continue;
    if (s.slice(m.index! + m[0].length).trimStart().startsWith('(')) continue; // a function
    names.add(name);
  }
  return [...names];
}
