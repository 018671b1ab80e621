// The streaming half of an import: bytes → stream-json tokens → orders → validated rows →
// batches for the merge pipeline. Memory holds one input chunk, one order and two batches.
import { StringDecoder } from 'node:string_decoder';
import { jsonParser, type Token } from 'stream-json/core/parser.js';
import { PermanentJobError } from '../../shared/errors.ts';
import { ExportReader, type RawOrder } from './reader.ts';
import { normalizeItem, orderDay, isCancelled, FIELD_LIMITS } from './normalize.ts';
import { copyText } from '../../shared/copy-text.ts';
import { KeyTracker } from './keys.ts';
import type { MergePipeline } from './pipeline.ts';
import type { OpenedSource } from './source.ts';

/** stream-json's end-of-input marker (stream-chain's `none`, a registered symbol). */
const END_OF_INPUT = Symbol.for('object-stream.none');
/** A single JSON value (a string, a number) longer than this fails the file: nothing legitimate is. */
const MAX_VALUE_BYTES = 1024 * 1024;
const PROGRESS_EVERY_MS = 500;
const TEXT_SLICE = 64 * 1024;
/**
 * Rows per merge: large enough that per-statement costs vanish, small enough to overlap
 * well. A small export gets smaller batches, so that it too is merged while it is read.
 */
const BATCH_ROWS = 25_000;
const MIN_BATCH_ROWS = 2_000;
/** Bytes of export per item at the least; estimates err towards more items. */
const MIN_ITEM_BYTES = 250;

export interface Rejection { order: number; item: number; at: string; orderId?: string; itemId?: string; reason: string }

export interface StageCounts { items: number; staged: number; repeats: number; rejected: number; skippedCancelled: number; bytes: number }

export interface StageOptions {
  categorize(title: string): string;
  signal: AbortSignal;
  progress(done: number, total: number | undefined): Promise<void>;
  reject(r: Rejection): void;
}

type Tokenizer = (chunk: string | symbol) => { values: Token[] } | symbol;

/** A copy that does not keep the parser's whole input chunk alive (V8 slices share their parent). */
const detach = (s: string) => Buffer.from(s, 'utf8').toString('utf8');

export async function stageRows(source: OpenedSource, pipeline: MergePipeline, opts: StageOptions): Promise<StageCounts> {
  // Packed values only: one token per key, string and number, instead of a token per piece.
  const tokenize = jsonParser({ packValues: true, streamValues: false }) as unknown as Tokenizer;
  const reader = new ExportReader();
  const expectedItems = source.bytes ? source.bytes / MIN_ITEM_BYTES : undefined;
  // A wrong guess only costs copying the table as it grows.
  const keys = new KeyTracker(expectedItems ?? 0);
  const batchRows = expectedItems ? Math.min(BATCH_ROWS, Math.max(MIN_BATCH_ROWS, Math.round(expectedItems / 8))) : BATCH_ROWS;
  const decoder = new StringDecoder('utf8');
  const counts: StageCounts = { items: 0, staged: 0, repeats: 0, rejected: 0, skippedCancelled: 0, bytes: 0 };
  let batch = pipeline.firstBatch();
  let sinceToken = 0;
  let lastProgress = performance.now();

  const feed = (text: string | symbol) => {
    let out: { values: Token[] } | symbol;
    try {
      out = tokenize(text);
    } catch (err) {
      // At the end of input, whatever the parser expected, the file stopped short of it.
      const ended = typeof text === 'symbol' ? 'it ends too early (empty or truncated?): ' : '';
      throw new PermanentJobError(`${source.label} is not valid JSON: ${ended}${(err as Error).message.replace(/^Parser (?:has )?/, '')} (near byte ${counts.bytes})`);
    }
    if (typeof out === 'symbol') {
      if (typeof text === 'string' && (sinceToken += text.length) > MAX_VALUE_BYTES) {
        throw new PermanentJobError(`${source.label} holds a single value longer than ${MAX_VALUE_BYTES} bytes (near byte ${counts.bytes}); not an AliExpress export`);
      }
      return;
    }
    sinceToken = 0;
    reader.write(out.values);
  };

  /**
   * Stages an order's items from index `from`; returns where it stopped because the batch
   * is full (the caller submits it and calls again), or -1 when the order is done.
   * Synchronous: an await per order would cost more than the order itself.
   */
  const stageItems = (order: RawOrder, from: number): number => {
    if (isCancelled(order.status)) {
      counts.items += order.items.length;
      counts.skippedCancelled += order.items.length;
      return -1;
    }
    const day = orderDay(order.orderDate);
    const store = copyText(typeof order.storeName === 'string' ? order.storeName.trim().slice(0, FIELD_LIMITS.storeName) || null : null);
    const items = order.items;
    for (let j = from; j < items.length; j++) {
      counts.items++;
      const item = items[j]!;
      const row = normalizeItem(item, opts.categorize);
      if (typeof row === 'string') {
        counts.rejected++;
        opts.reject({
          order: order.index, item: j, at: `${reader.prefix}[${order.index}].items[${j}]`,
          ...(typeof order.orderId === 'string' ? { orderId: detach(order.orderId.slice(0, 64)) } : {}),
          ...(typeof item.itemId === 'string' ? { itemId: detach(item.itemId.slice(0, 64)) } : {}),
          reason: detach(row),
        });
        continue;
      }
      const seen = keys.see(row.externalId, row.variantKey, day);
      if (seen.repeat) counts.repeats++;
      const room = batch.add(++counts.staged, store, row, seen.repeat, seen.newer);
      if (!room || batch.rows >= batchRows) return j + 1;
    }
    return -1;
  };
  const stageReady = async (): Promise<void> => {
    for (const order of reader.ready) {
      let next = stageItems(order, 0);
      while (next >= 0) {
        batch = await pipeline.submit(batch);
        next = next < order.items.length ? stageItems(order, next) : -1;
      }
    }
    reader.ready.length = 0;
  };

  let first = true;
  for await (const chunk of source.chunks) {
    opts.signal.throwIfAborted();
    counts.bytes += chunk.length;
    // Decoded in slices: strings this small stay in V8's young generation and die cheaply.
    for (let offset = 0; offset < chunk.length; offset += TEXT_SLICE) {
      let text = decoder.write(chunk.subarray(offset, offset + TEXT_SLICE));
      if (first && text.length > 0) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark is not JSON
      }
      feed(text);
      if (reader.ready.length > 0) await stageReady();
    }
    const now = performance.now();
    if (now - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = now;
      // Items are counted as they are read; the total is estimated from the bytes read so far.
      const estimate = source.bytes && counts.bytes > 0 ? Math.max(counts.items, Math.round((counts.items * source.bytes) / counts.bytes)) : undefined;
      await opts.progress(counts.items, estimate);
    }
  }
  feed(decoder.end());
  feed(END_OF_INPUT);
  await stageReady();
  reader.end();
  if (batch.rows > 0) await pipeline.submit(batch);
  await opts.progress(counts.items, counts.items);
  return counts;
}
