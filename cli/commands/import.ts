import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { Upload } from '@aws-sdk/lib-storage';
import type { Command } from '../command.ts';
import { parse, withProducer, UsageError } from '../command.ts';
import { enqueueAndWait } from '../wait.ts';
import { resolveS3, ensureBuckets } from '../../shared/s3.ts';
import type { Config } from '../../shared/config.ts';

/** Uploads the export to the imports bucket, so a worker on any machine can read it. */
async function upload(config: Config, file: string, size: number): Promise<{ bucket: string; key: string }> {
  const { client, embedded } = await resolveS3(config);
  try {
    await ensureBuckets(client, [config.importBucket]);
    // Timestamped, with a random part: two uploads of the same name never overwrite each other.
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const key = `cli/${stamp}-${crypto.randomBytes(3).toString('hex')}/${path.basename(file)}`;
    await new Upload({
      client,
      params: { Bucket: config.importBucket, Key: key, Body: fs.createReadStream(file), ContentType: 'application/json', ContentLength: size },
    }).done();
    return { bucket: config.importBucket, key };
  } finally {
    client.destroy();
    await embedded?.close();
  }
}

export const importCommand: Command = {
  name: 'import',
  summary: 'Upload an AliExpress order export and import it into inventory',
  help: `Usage: fleet import <file> [--dry-run] [--wait] [--timeout <seconds>]

Uploads <file> (an AliExpress order export, JSON) to the imports bucket (IMPORT_BUCKET)
and enqueues an inventory-import job that reads it from there, so the worker may run on
another machine. The object stays in the bucket (key cli/<time>-<random>/<file name>).
  --dry-run   report what the import would change, change nothing
  --wait      wait for the job: exit 0 and print its result as one JSON line, last on
              stdout (inserted, updated, unchanged, rejected, byCategory, errors…);
              exit 1 with the reason on stderr if it fails. Progress shows on a terminal.
  --timeout   with --wait, give up after this many seconds (exit 3) [no limit]
Without --wait, prints {"job","id","bucket","key"} as one JSON line.

Examples:
  fleet import aliexpress-orders-2025-08-02.json --dry-run --wait
  fleet import aliexpress-orders-2025-08-02.json --wait`,
  async run(args, io) {
    const { values, positionals } = parse(args, { 'dry-run': { type: 'boolean' }, wait: { type: 'boolean' }, timeout: { type: 'string' } });
    const [file, ...extra] = positionals;
    if (!file) throw new UsageError('which file? (fleet import <file>)');
    if (extra.length) throw new UsageError(`unexpected argument: ${extra[0]}`);
    const timeoutS = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeoutS !== undefined && !(timeoutS > 0)) throw new UsageError('--timeout must be a positive number of seconds');
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      throw new UsageError(`${file} does not exist`);
    }
    if (!stat.isFile()) throw new UsageError(`${file} is not a file`);

    return withProducer(io, async (producer, config) => {
      if (stat.size > config.import.maxBytes) {
        throw new UsageError(`${file} is larger than IMPORT_MAX_BYTES (${config.import.maxBytes} bytes); workers would refuse it`);
      }
      const source = await upload(config, file, stat.size);
      io.err(`uploaded ${file} to s3://${source.bucket}/${source.key}`);
      const payload = { source: { s3: source }, dryRun: Boolean(values['dry-run']) };
      if (!values.wait) {
        const id = await producer.enqueue('inventory-import', payload, { enqueuedBy: 'cli' });
        io.out(JSON.stringify({ job: 'inventory-import', id, ...source }));
        return 0;
      }
      return enqueueAndWait(io, producer, config, 'inventory-import', payload, { timeoutS });
    });
  },
};
