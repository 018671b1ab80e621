// Seed 000's import as an export (SPEC §4): 135 items whose per-category counts and values
// are the seed's table, for the test that the import reproduces it.
import {
  CATEGORIES, TITLE_CORES, MATERIALS, SUFFIXES, STORES, COLORS, SIZES, PRICE_FORMATS,
  formatPrice, attributeString, type Category, type ExportItem, type ExportOrder,
} from './aliexpress.ts';

/** Seed 000's import (SPEC §4): items and total value (unit price × quantity) per category. */
export const SEED_TABLE: Record<Category, { items: number; value: string }> = {
  'Chains/Bracelet Chains': { items: 48, value: '232.68' },
  'Earrings/Components': { items: 29, value: '150.24' },
  'Charms/Pendants': { items: 24, value: '109.99' },
  'Accessories/Bag Accessories': { items: 12, value: '82.59' },
  'Chains/Necklace Chains': { items: 10, value: '39.62' },
  'Components/Miscellaneous': { items: 6, value: '12.69' },
  'Findings/Carabiners': { items: 3, value: '47.38' },
  'Findings/Connectors': { items: 3, value: '25.76' },
};

/**
 * An export whose 135 items land exactly as seed 000's did: the same count and value per
 * category. Prices in every format, attributes in both forms, some items bought in two
 * orders, plus a cancelled order and a bad row that must change nothing.
 */
export function seedExport(): { exportedAt: string; orders: ExportOrder[] } {
  const orders: ExportOrder[] = [];
  let n = 0;
  const order = (items: unknown[], status = 'Completed'): void => {
    orders.push({ orderId: String(8190000000000001 + orders.length), orderDate: `2025-07-${String(1 + (orders.length % 28)).padStart(2, '0')}`, status, storeName: STORES[orders.length % STORES.length]!, items });
  };
  for (const category of CATEGORIES) {
    const { items, value } = SEED_TABLE[category];
    const total = Math.round(Number(value) * 100);
    const share = Math.floor(total / items);
    let left = total;
    const pending: unknown[] = [];
    for (let i = 0; i < items; i++, n++) {
      const last = i === items - 1;
      const quantity = last ? 1 : 1 + (i % 3);
      const cents = last ? left : Math.max(1, Math.floor(share / quantity));
      left -= cents * quantity;
      const cores = TITLE_CORES[category];
      const attrs = { color: COLORS[n % COLORS.length]!, size: SIZES[n % SIZES.length]! };
      const item: ExportItem = {
        itemId: String(1005006100000000 + n),
        title: `${n % 2 ? `${10 * (1 + (n % 5))}Pcs ` : ''}${MATERIALS[n % MATERIALS.length]} ${cores[n % cores.length]}${SUFFIXES[n % SUFFIXES.length]}`,
        price: formatPrice(cents, cents >= 100_000 ? 'dollar' : PRICE_FORMATS[n % PRICE_FORMATS.length]!),
        quantity,
        attributes: n % 4 === 0 ? { size: attrs.size, color: attrs.color } : attributeString(attrs, n % 2 ? ['size', 'color'] : ['color', 'size']),
        imageUrl: `https://ae01.alicdn.com/kf/S${n}.jpg`,
      };
      if (quantity > 1 && n % 5 === 0) {
        // Bought twice: the quantities add up, key order differs, the price is the same.
        pending.push({ ...item, quantity: 1, attributes: attributeString(attrs, ['size', 'color']) });
        item.quantity = quantity - 1;
      }
      pending.push(item);
      if (pending.length >= 4) order(pending.splice(0));
    }
    if (pending.length) order(pending.splice(0));
  }
  order([{ itemId: '1005006199999999', title: 'Cancelled Charm Pendant', price: '$9.99', quantity: 3 }], 'Cancelled');
  order([{ itemId: '1005006199999998', title: 'Refunded Necklace Chain', price: 'US $5.00', quantity: 1 }], 'Refunded');
  order([{ itemId: '1005006199999997', title: 'Bad Price Charm', price: '€1.00', quantity: 1 }]);
  return { exportedAt: '2025-08-02T17:54:46.302Z', orders };
}
