// COPY text format for staged rows, encoded into reusable batch buffers; a batch goes to
// PostgreSQL in one COPY. Encoding every 16k characters lets the parser's strings die young.
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { PoolClient } from '../../shared/db.ts';
import type { NormalRow } from './normalize.ts';
import { STAGING_COLUMNS } from './queries.ts';
import { copyText } from '../../shared/copy-text.ts';

/** Bytes of one batch buffer; two of them are all the COPY data an import holds at once. */
const BATCH_BYTES = 4 * 1024 * 1024;
const PIECE_CHARS = 16 * 1024;

/**
 * One batch of COPY lines, encoded into a fixed buffer that is reused batch after batch:
 * a million rows then churn no memory outside the JavaScript heap.
 */
export class Batch {
  private readonly buffer = Buffer.allocUnsafe(BATCH_BYTES);
  private length = 0;
  private text = '';
  rows = 0;

  /** Adds one row; storeName arrives COPY-escaped already (once per order). Returns false when full. */
  add(seq: number, storeName: string, row: NormalRow, repeat: boolean, newer: boolean): boolean {
    this.text += `${seq}\t${copyText(row.externalId)}\t${copyText(row.variantKey)}\t${copyText(row.title)}\t${row.category}\t${row.unitPrice}\t${row.quantity}\t${storeName}\t${copyText(row.imageUrl)}\t${repeat ? 't' : 'f'}\t${newer ? 't' : 'f'}\n`;
    this.rows++;
    if (this.text.length >= PIECE_CHARS) this.seal();
    // Room left for a pending piece plus one maximal row (about 9k characters escaped),
    // at 3 bytes per UTF-16 unit in the worst case.
    return this.length + 3 * (PIECE_CHARS + 16 * 1024) < BATCH_BYTES;
  }

  private seal(): void {
    if (this.text === '') return;
    const bytes = Buffer.byteLength(this.text, 'utf8');
    if (this.length + bytes > BATCH_BYTES) throw new Error('batch buffer overflow'); // add() keeps enough room
    this.length += this.buffer.write(this.text, this.length, 'utf8');
    this.text = '';
  }

  /** The encoded lines, ready to send. */
  data(): Buffer {
    this.seal();
    return this.buffer.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
    this.text = '';
    this.rows = 0;
  }
}

/** Sends a batch through COPY into the staging table. */
export async function copyBatch(client: PoolClient, table: string, batch: Batch): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (${STAGING_COLUMNS.join(', ')}) FROM STDIN`));
  let failure: Error | undefined;
  stream.on('error', (err: Error) => { failure ??= err; });
  if (!stream.write(batch.data())) await once(stream, 'drain');
  if (failure) throw failure;
  stream.end();
  await finished(stream);
}
