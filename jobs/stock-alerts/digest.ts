import type { AlertDetail, AlertLevel, LifecycleCounts } from './queries.ts';

/** Items named in one digest; the rest are counted. Keeps the message under Slack's limits. */
export const DIGEST_MAX_ITEMS = 50;
const TITLE_MAX = 80;

export interface DigestSummary extends LifecycleCounts {
  open: number;
  /** Alerts this digest covers: new, plus escalated since the last digest. */
  pending: number;
  newAlerts: number;
  escalatedAlerts: number;
  listed: number;
}

export interface DigestItem {
  alertId: number;
  inventoryId: number;
  externalId: string;
  variantKey: string;
  title: string;
  storeName: string | null;
  level: AlertLevel;
  previousLevel: AlertLevel | null;
  available: number;
  threshold: number;
  openedAt: string;
}

/** The webhook body: Slack-compatible `text`, plus the same facts as structured fields. */
export interface Digest {
  text: string;
  summary: DigestSummary;
  alerts: DigestItem[];
}

// Slack mrkdwn treats &, < and > as control characters; titles come from imported data.
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function buildDigest(summary: Omit<DigestSummary, 'listed'>, details: AlertDetail[]): Digest {
  const alerts: DigestItem[] = details.slice(0, DIGEST_MAX_ITEMS).map((d) => ({
    alertId: d.id,
    inventoryId: d.inventory_id,
    externalId: d.external_id,
    variantKey: d.variant_key,
    title: d.title,
    storeName: d.store_name,
    level: d.level,
    previousLevel: d.notified_level,
    available: d.available_quantity,
    threshold: d.low_stock_threshold,
    openedAt: d.opened_at.toISOString(),
  }));
  const head = [
    summary.newAlerts > 0 ? plural(summary.newAlerts, 'new alert') : undefined,
    summary.escalatedAlerts > 0 ? `${summary.escalatedAlerts} escalated to out of stock` : undefined,
    summary.resolved > 0 ? `${summary.resolved} resolved this run` : undefined,
  ].filter(Boolean).join(', ');
  const lines = [
    `*Stock alerts*: ${head}. Now ${summary.lowStock} low on stock, ${summary.outOfStock} out of stock.`,
    ...alerts.map((a) => {
      const what = a.level === 'out' ? '*OUT*' : 'LOW';
      const variant = a.variantKey ? ` · ${clip(a.variantKey, 40)}` : '';
      const was = a.previousLevel ? ` (was ${a.previousLevel})` : '';
      return `• ${what} ${escape(clip(a.title, TITLE_MAX))} (${escape(a.externalId)}${escape(variant)}): ${a.available} available, threshold ${a.threshold}${was}`;
    }),
  ];
  if (summary.pending > alerts.length) lines.push(`…and ${summary.pending - alerts.length} more.`);
  return { text: lines.join('\n'), summary: { ...summary, listed: alerts.length }, alerts };
}
