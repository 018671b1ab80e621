// Which rows a run works on, and the ones it reports without touching.
import type { Pool } from '../../shared/db.ts';
import { IMAGE_TABLES, type ImageTable } from '../../shared/image-keys.ts';
import { pendingRows, rowsById, type Candidate } from './queries.ts';
import type { ImageMigrationPayload } from './index.ts';

export interface Selection {
  work: (Candidate & { source: string })[];
  skipped: { table: ImageTable; id: string; reason: string }[];
  failed: { table: ImageTable; id: string; reason: string }[];
}

export async function selectRows(db: Pool, base: string, p: ImageMigrationPayload): Promise<Selection> {
  const sel: Selection = { work: [], skipped: [], failed: [] };
  if (p.ids && p.table) {
    const table = p.table;
    const ids = [...new Set(p.ids.map((id) => id.toLowerCase()))];
    const found = new Map((await rowsById(db, table, base, ids)).map((c) => [c.id, c]));
    for (const id of ids) {
      const c = found.get(id);
      if (!c) sel.failed.push({ table, id, reason: `no ${table} row with id ${id}` });
      else if (!c.source) sel.failed.push({ table, id, reason: 'row has no image to migrate (image_url and r2_url are empty)' });
      else if (!c.pending && !p.force) sel.skipped.push({ table, id, reason: 'already migrated (use force to redo)' });
      else sel.work.push({ ...c, source: c.source });
    }
    return sel;
  }
  for (const table of p.table ? [p.table] : IMAGE_TABLES) {
    const room = p.limit - sel.work.length;
    if (room <= 0) break;
    for (const c of await pendingRows(db, table, base, { limit: room, force: p.force })) {
      if (c.source) sel.work.push({ ...c, source: c.source });
    }
  }
  return sel;
}
