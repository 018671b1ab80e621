import type { Check } from '../check.ts';
import expiredReservations from './expired-reservations.ts';
import cancelledOrderReservations from './cancelled-order-reservations.ts';
import duplicateInventory from './duplicate-inventory.ts';
import negativeAvailable from './negative-available.ts';
import statusDrift from './status-drift.ts';
import orphanedOrderItems from './orphaned-order-items.ts';
import orphanedVariants from './orphaned-variants.ts';
import expiredAdminSessions from './expired-admin-sessions.ts';

/**
 * Every check, in the order they run. Order matters: stale reservations are released
 * first and duplicates merged (moving reservations) before reserved_quantity is recomputed
 * for negative available quantities; status is recomputed after all quantity repairs.
 */
export const checks: readonly Check[] = [
  expiredReservations,
  cancelledOrderReservations,
  duplicateInventory,
  negativeAvailable,
  statusDrift,
  orphanedOrderItems,
  orphanedVariants,
  expiredAdminSessions,
];

export const checkNames: readonly string[] = checks.map((c) => c.name);
