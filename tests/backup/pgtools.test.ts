import { describe, it, expect } from 'vitest';
import { libpqTarget, majorOf } from '../../jobs/backup/pgtools.ts';
import { pgDumpArgs } from '../../jobs/backup/dump.ts';

describe('pg tool plumbing', () => {
  it('keeps the password out of the command line (it goes to PGPASSWORD)', () => {
    const t = libpqTarget('postgres://app:s%40cret@db.internal:5433/shop?sslmode=require');
    expect(t.dbname).toBe('postgres://app@db.internal:5433/shop?sslmode=require');
    expect(t.env).toEqual({ PGPASSWORD: 's@cret' });
    const q = libpqTarget('postgres://app@db/shop?password=hunter2&ssl=true');
    expect(q.dbname).not.toContain('hunter2');
    expect(q.dbname).toBe('postgres://app@db/shop?sslmode=require');
    expect(q.env.PGPASSWORD).toBe('hunter2');
    expect(libpqTarget('postgres://127.0.0.1/x').dbname).toMatch(/^postgres:\/\/[^:@]+@127\.0\.0\.1\/x$/);
  });

  it('reads major versions', () => {
    expect(majorOf('15.20 (Debian 15.20-0+deb12u1)')).toBe(15);
    expect(majorOf('16beta1')).toBe(16);
    expect(majorOf('9.6.24')).toBe(9);
  });

  it('quotes table patterns so nothing in a name is a wildcard or a separator', () => {
    const args = pgDumpArgs({ snapshot: '00000003-1', kind: 'data', tables: [{ schema: 'public', name: 'we"ird*.name' }] }, 'postgres://u@h/d');
    expect(args).toEqual(['--format=custom', '--snapshot=00000003-1', '--no-password', '--data-only', '--table="public"."we""ird*.name"', '--dbname=postgres://u@h/d']);
  });
});
