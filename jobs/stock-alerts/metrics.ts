import { counter, gauge } from '../../shared/metrics.ts';

// The runbook's "Low Stock > 5 items (warning) / > 10 (critical)" (SPEC §9) pages on these.
// The same names may also be set by a monitor that reads the database; get-or-create
// returns one gauge either way.
export function stockAlertMetrics() {
  return {
    lowStock: gauge({ name: 'fleet_inventory_low_stock_items', help: 'Active inventory items with status low_stock (as of the last stock-alerts run)' }),
    outOfStock: gauge({ name: 'fleet_inventory_out_of_stock_items', help: 'Active inventory items with status out_of_stock (as of the last stock-alerts run)' }),
    digests: counter<'outcome'>({
      name: 'fleet_stock_alert_digests_total', help: 'Stock-alert digests by outcome (sent, failed)', labelNames: ['outcome'],
    }),
  };
}
