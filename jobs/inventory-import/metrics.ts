import { counter } from '../../shared/metrics.ts';

/** Items read by inventory imports, by what became of them (a fixed set of outcomes). */
export function importMetrics() {
  return {
    items: counter<'outcome'>({
      name: 'fleet_inventory_import_items_total',
      help: 'Inventory import: items by outcome (inserted, updated, unchanged rows; rejected and cancelled items)',
      labelNames: ['outcome'],
    }),
    bytes: counter({ name: 'fleet_inventory_import_bytes_total', help: 'Inventory import: bytes of export read' }),
  };
}
