import type { JobContext } from '../../shared/job.ts';
import { withTransaction, quoteIdent } from '../../shared/db.ts';
import { PermanentJobError } from '../../shared/errors.ts';
import { listMatviews, lockView, setLockTimeout, type MatviewInfo } from './queries.ts';
import type { MvRefreshPayload } from './index.ts';

export interface MvRefreshResult { refreshed: { view: string; ms: number; concurrently: boolean }[] }

export async function refreshViews(payload: MvRefreshPayload, ctx: JobContext): Promise<MvRefreshResult> {
  const all = await listMatviews(ctx.db);
  const byName = new Map(all.map((v) => [v.name, v]));
  let targets: MatviewInfo[];
  if (payload.views && payload.views.length > 0) {
    const unknown = payload.views.filter((v) => !byName.has(v));
    if (unknown.length > 0) {
      throw new PermanentJobError(
        `Unknown materialized view${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}. Valid views: ${all.map((v) => v.name).join(', ') || '(none)'}`,
      );
    }
    targets = [...new Set(payload.views)].map((v) => byName.get(v)!);
  } else {
    targets = all;
  }

  const refreshed: MvRefreshResult['refreshed'] = [];
  for (const [i, view] of targets.entries()) {
    ctx.signal.throwIfAborted();
    const concurrently = view.populated && view.hasUniqueIndex;
    const started = performance.now();
    await withTransaction(ctx.db, async (client) => {
      // A stuck lock (a long reader holding an exclusive lock, another refresh) fails this
      // attempt after lockTimeoutMs instead of hanging the worker; BullMQ retries later.
      await setLockTimeout(client, payload.lockTimeoutMs);
      await lockView(client, view.name);
      // view.name came from pg_matviews, never from the payload directly.
      await client.query(`REFRESH MATERIALIZED VIEW ${concurrently ? 'CONCURRENTLY ' : ''}${quoteIdent(view.name)}`);
    });
    const ms = Math.round(performance.now() - started);
    refreshed.push({ view: view.name, ms, concurrently });
    ctx.log.info({ view: view.name, ms, concurrently }, 'materialized view refreshed');
    await ctx.progress({ done: i + 1, total: targets.length });
  }
  return { refreshed };
}
