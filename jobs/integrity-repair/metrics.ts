import { counter, gauge } from '../../shared/metrics.ts';

// Label values are the fixed check names, never ids.
export function integrityMetrics() {
  return {
    found: gauge<'check'>({ name: 'fleet_integrity_faults_found', help: 'Faults found by the last integrity-repair run, per check', labelNames: ['check'] }),
    repaired: counter<'check'>({ name: 'fleet_integrity_repairs_total', help: 'Entities repaired by integrity-repair, per check', labelNames: ['check'] }),
  };
}
