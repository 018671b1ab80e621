import fs from 'node:fs';

/**
 * CPU seconds a local PostgreSQL backend has used, from /proc (Linux, same machine, and
 * readable by us); undefined otherwise. Benchmarks report it beside wall time: on a busy
 * machine the CPU each side needs says more than the seconds it waited.
 */
export function backendCpuSeconds(pid: number): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}
