import { describe, it, expect, afterAll } from 'vitest';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { useTestFleet } from '../helpers.ts';
import { runCli } from '../../cli/main.ts';
import inventoryImport from '../../jobs/inventory-import/index.ts';
import { fixture, removeFixtures, order, item } from './support.ts';

const fleet = useTestFleet();
afterAll(removeFixtures);

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), isTTY: false, env: fleet.env });
  return { code, out, err: err.join('\n') };
}

describe('fleet import', () => {
  it('uploads the file to the imports bucket and waits for the import, dry run first', async () => {
    const file = await fixture('cli-export.json', { orders: [order([item('cli-1', { quantity: 2 }), item('cli-2', { price: 'EUR 2' })])] });
    const host = await fleet.startWorkers([inventoryImport]);
    try {
      const dry = await cli('import', file, '--dry-run', '--wait');
      expect(dry.code, dry.err).toBe(0);
      expect(JSON.parse(dry.out.at(-1)!)).toMatchObject({ dryRun: true, inserted: 1, rejected: 1 });
      expect((await fleet.db.query('SELECT count(*)::int AS n FROM inventory')).rows[0].n).toBe(0);

      const real = await cli('import', file, '--wait');
      expect(real.code, real.err).toBe(0);
      expect(real.err).toMatch(/uploaded .*cli-export\.json to s3:\/\/.*-imports\/cli\/.*\/cli-export\.json/);
      const result = JSON.parse(real.out.at(-1)!);
      expect(result).toMatchObject({ dryRun: false, inserted: 1, rejected: 1, errors: [{ itemId: 'cli-2', reason: 'price is not in US dollars (got "EUR 2")' }] });
      expect(result.source).toMatch(/^s3:\/\/.*-imports\/cli\//);
    } finally {
      await host.close();
    }
  });

  it('without --wait prints the job and where the file went', async () => {
    const file = await fixture('cli-nowait.json', [order([item('cli-3')])]);
    const run = await cli('import', file);
    expect(run.code, run.err).toBe(0);
    const printed = JSON.parse(run.out.at(-1)!);
    expect(printed).toMatchObject({ job: 'inventory-import', id: expect.any(String), bucket: fleet.config.importBucket });
    await fleet.services.s3.send(new HeadObjectCommand({ Bucket: printed.bucket, Key: printed.key }));
    const job = await fleet.services.producer.queue('inventory-import').getJob(printed.id);
    expect(job!.data.payload).toEqual({ source: { s3: { bucket: printed.bucket, key: printed.key } }, dryRun: false });
    await job!.remove();
  });

  it('explains usage mistakes with exit code 2', async () => {
    expect(await cli('import')).toMatchObject({ code: 2, err: expect.stringMatching(/which file/) });
    expect(await cli('import', '/nonexistent.json')).toMatchObject({ code: 2, err: expect.stringMatching(/does not exist/) });
    expect(await cli('import', '/tmp')).toMatchObject({ code: 2, err: expect.stringMatching(/is not a file/) });
    const help = await cli('import', '--help');
    expect(help.code).toBe(0);
    expect(help.out.join('\n')).toMatch(/Usage: fleet import <file> \[--dry-run\] \[--wait\]/);
  });
});
