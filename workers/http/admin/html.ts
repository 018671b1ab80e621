// Tiny server-side HTML: every interpolated value goes through esc(); no client scripts.

export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
header{background:#1f2933;color:#fff;padding:10px 24px;display:flex;gap:20px;align-items:center}
header a,header button{color:#fff;text-decoration:none;background:none;border:0;font:inherit;cursor:pointer;padding:0}
header .title{font-weight:600;margin-right:auto}
main{padding:20px 24px;max-width:1200px}
h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0001}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{background:#eef1f4;font-weight:600}
.lvl{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.ok{background:#d3f4dd;color:#0b6b2c}.warning{background:#fff1c2;color:#8a5a00}.critical{background:#fbd5d5;color:#9b1c1c}.nodata{background:#e4e7eb;color:#52606d}
.muted{color:#7b8794}.err{color:#9b1c1c;max-width:420px;overflow-wrap:anywhere}
form.login{max-width:380px;margin:12vh auto;background:#fff;padding:28px;box-shadow:0 1px 4px #0002;border-radius:6px}
form.login input[type=password]{width:100%;box-sizing:border-box;padding:8px;margin:8px 0 14px;font:inherit}
form.login button{padding:8px 16px;font:inherit}
.alert{background:#fbd5d5;color:#9b1c1c;padding:8px 10px;border-radius:4px;margin-bottom:12px}
`;

export function page(title: string, body: string, opts: { nav?: boolean } = {}): string {
  const nav = opts.nav === false ? '' : `<header><span class="title">Stockroom fleet</span><a href="/admin">Status</a>
<a href="/admin/queues">Queues</a><form method="post" action="/admin/logout" style="margin:0"><button type="submit">Log out</button></form></header>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · Stockroom fleet</title><style>${STYLE}</style></head><body>${nav}${body}</body></html>`;
}

export function badge(level: string, text = level): string {
  return `<span class="lvl ${esc(level)}">${esc(text)}</span>`;
}

export function fmtTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '<span class="muted">—</span>';
  const ms = new Date(iso).getTime() - now;
  const abs = Math.abs(ms);
  const rel = abs < 90_000 ? `${Math.round(abs / 1000)} s` : abs < 5_400_000 ? `${Math.round(abs / 60_000)} min` : abs < 172_800_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} d`;
  return `${esc(iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))} <span class="muted">(${ms >= 0 ? `in ${rel}` : `${rel} ago`})</span>`;
}

export function fmtValue(value: number, unit: 'count' | 'bytes' | 'seconds'): string {
  if (unit === 'bytes') return value >= 1024 ** 3 ? `${(value / 1024 ** 3).toFixed(2)} GB` : `${(value / 1024 ** 2).toFixed(1)} MB`;
  if (unit === 'seconds') return `${value.toFixed(1)} s`;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
