// Turns stream-json tokens into orders with their items, one order at a time, checking the
// export's shape (SPEC §4) as it goes. Nothing but the current order is held in memory, and
// values the import does not use are skipped without being assembled.
import type { Token } from 'stream-json/core/parser.js';
import { PermanentJobError } from '../../shared/errors.ts';

/** A JSON scalar as the import sees it: strings as is, numbers as their exact source text. */
export type Scalar = string | boolean | null;
export type AttrValue = string | number | boolean | null;

export interface RawItem {
  itemId?: Scalar;
  title?: Scalar;
  price?: Scalar;
  quantity?: Scalar;
  attributes?: Scalar | Record<string, AttrValue>;
  imageUrl?: Scalar;
  /** Set when the item cannot be read at all (not an object, a field of the wrong type). */
  bad?: string;
}

export interface RawOrder {
  index: number;
  orderId?: Scalar;
  orderDate?: Scalar;
  status?: Scalar;
  storeName?: Scalar;
  items: RawItem[];
}

/** The file is valid JSON but not an AliExpress export: retrying cannot help. */
export class ShapeError extends PermanentJobError {
  constructor(message: string) {
    super(`Not an AliExpress order export: ${message}`);
    this.name = 'ShapeError';
  }
}

export const LIMITS = {
  /** Items of one order are buffered until the order ends (its status may come after them). */
  itemsPerOrder: 10_000,
  attributes: 32,
  /** Nesting the reader will skip through inside values it does not use. */
  depth: 64,
};

const ORDER_FIELDS = new Set(['orderId', 'orderDate', 'status', 'storeName']);
const ITEM_FIELDS = new Set(['itemId', 'title', 'price', 'quantity', 'attributes', 'imageUrl']);

// Reader states (plain numbers: this loop runs once per token, tens of millions of times).
const ROOT = 0, ROOT_KEYS = 1, SKIP_VALUE = 2, ORDERS_START = 3, ORDERS = 4, ORDER_KEYS = 5, ORDER_VALUE = 6,
  ITEMS_START = 7, ITEMS = 8, ITEM_KEYS = 9, ITEM_VALUE = 10, ATTR_KEYS = 11, ATTR_VALUE = 12, SKIP = 13, DONE = 14;

function scalarOf(token: Token): Scalar | undefined {
  switch (token.name) {
    case 'stringValue': case 'numberValue': return token.value;
    case 'trueValue': return true;
    case 'falseValue': return false;
    case 'nullValue': return null;
    default: return undefined;
  }
}

export class ExportReader {
  /** Orders completed since the caller last took them. */
  ready: RawOrder[] = [];
  private mode = ROOT;
  private bareArray = false;
  private sawOrders = false;
  private key = '';
  private skipDepth = 0;
  private afterSkip = ROOT;
  private orderIndex = -1;
  private order: RawOrder | undefined;
  private item: RawItem | undefined;
  private attrs: Record<string, AttrValue> | undefined;
  private attrKey = '';
  private attrCount = 0;

  get finished(): boolean { return this.mode === DONE; }

  /** How positions are written: "orders[3]…", or "[3]…" for a bare array of orders. */
  get prefix(): string { return this.bareArray ? '' : 'orders'; }

  private where(): string {
    return `${this.prefix}[${this.orderIndex}]`;
  }

  /** Enters SKIP for a compound value; a scalar needs no skipping. */
  private skip(token: Token, then: number): void {
    if (token.name === 'startObject' || token.name === 'startArray') {
      this.skipDepth = 1;
      this.afterSkip = then;
      this.mode = SKIP;
    } else {
      this.mode = then;
    }
  }

  write(tokens: readonly Token[]): void {
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      switch (this.mode) {
        case SKIP:
          if (t.name === 'startObject' || t.name === 'startArray') {
            if (++this.skipDepth > LIMITS.depth) throw new ShapeError(`values nested deeper than ${LIMITS.depth} levels`);
          } else if (t.name === 'endObject' || t.name === 'endArray') {
            if (--this.skipDepth === 0) this.mode = this.afterSkip;
          }
          break;
        case ITEM_KEYS:
          if (t.name === 'keyValue') {
            this.key = t.value;
            if (ITEM_FIELDS.has(t.value)) this.mode = ITEM_VALUE;
            else { this.afterSkip = ITEM_KEYS; this.mode = SKIP_VALUE; }
          } else { // endObject
            this.order!.items.push(this.item!);
            this.item = undefined;
            this.mode = ITEMS;
          }
          break;
        case ITEM_VALUE: {
          const v = scalarOf(t);
          const item = this.item!;
          if (v !== undefined) {
            (item as Record<string, unknown>)[this.key] = v;
            this.mode = ITEM_KEYS;
          } else if (t.name === 'startObject' && this.key === 'attributes') {
            // No prototype: a "__proto__" key is data here, not a prototype switch.
            this.attrs = Object.create(null) as Record<string, AttrValue>;
            this.attrCount = 0;
            item.attributes = this.attrs;
            this.mode = ATTR_KEYS;
          } else {
            item.bad ??= `${this.key} must be ${this.key === 'attributes' ? 'text or an object' : 'a string or a number'}`;
            this.skip(t, ITEM_KEYS);
          }
          break;
        }
        case ATTR_KEYS:
          if (t.name === 'keyValue') {
            this.attrKey = t.value;
            this.mode = ATTR_VALUE;
          } else { // endObject
            this.attrs = undefined;
            this.mode = ITEM_KEYS;
          }
          break;
        case ATTR_VALUE: {
          const attrs = this.attrs!;
          if (t.name === 'numberValue') attrs[this.attrKey] = Number(t.value);
          else {
            const v = scalarOf(t);
            if (v !== undefined) attrs[this.attrKey] = v;
            else {
              this.item!.bad ??= 'attribute values must be text, numbers, booleans or null';
              this.skip(t, ATTR_KEYS);
              break;
            }
          }
          if (++this.attrCount > LIMITS.attributes) this.item!.bad ??= `more than ${LIMITS.attributes} attributes`;
          this.mode = ATTR_KEYS;
          break;
        }
        case ITEMS:
          if (t.name === 'startObject') {
            if (this.order!.items.length >= LIMITS.itemsPerOrder) {
              throw new ShapeError(`${this.where()} has more than ${LIMITS.itemsPerOrder} items; split the export`);
            }
            this.item = {};
            this.mode = ITEM_KEYS;
          } else if (t.name === 'endArray') {
            this.mode = ORDER_KEYS;
          } else {
            this.order!.items.push({ bad: 'item is not an object' });
            this.skip(t, ITEMS);
          }
          break;
        case ORDER_KEYS:
          if (t.name === 'keyValue') {
            this.key = t.value;
            if (t.value === 'items') this.mode = ITEMS_START;
            else if (ORDER_FIELDS.has(t.value)) this.mode = ORDER_VALUE;
            else { this.afterSkip = ORDER_KEYS; this.mode = SKIP_VALUE; }
          } else { // endObject
            this.ready.push(this.order!);
            this.order = undefined;
            this.mode = ORDERS;
          }
          break;
        case ORDER_VALUE: {
          const v = scalarOf(t);
          if (v !== undefined) (this.order as unknown as Record<string, unknown>)[this.key] = v;
          this.skip(t, ORDER_KEYS); // an order field of the wrong type counts as absent
          break;
        }
        case ITEMS_START:
          if (t.name !== 'startArray') throw new ShapeError(`${this.where()}.items must be an array`);
          this.mode = ITEMS;
          break;
        case ORDERS:
          if (t.name === 'startObject') {
            this.order = { index: ++this.orderIndex, items: [] };
            this.mode = ORDER_KEYS;
          } else if (t.name === 'endArray') {
            this.mode = this.bareArray ? DONE : ROOT_KEYS;
          } else {
            this.orderIndex++;
            throw new ShapeError(`${this.where()} is not an object`);
          }
          break;
        case SKIP_VALUE:
          // A value the import does not use (at any level): skip it, then go back.
          this.skip(t, this.afterSkip);
          break;
        case ROOT_KEYS:
          if (t.name === 'keyValue') {
            if (t.value === 'orders') {
              if (this.sawOrders) throw new ShapeError('"orders" appears twice');
              this.sawOrders = true;
              this.mode = ORDERS_START;
            } else {
              this.afterSkip = ROOT_KEYS; this.mode = SKIP_VALUE;
            }
          } else { // endObject
            if (!this.sawOrders) throw new ShapeError('the top-level object has no "orders" array');
            this.mode = DONE;
          }
          break;
        case ORDERS_START:
          if (t.name !== 'startArray') throw new ShapeError('"orders" must be an array');
          this.mode = ORDERS;
          break;
        case ROOT:
          if (t.name === 'startObject') this.mode = ROOT_KEYS;
          else if (t.name === 'startArray') { this.bareArray = true; this.mode = ORDERS; }
          else throw new ShapeError('the top level must be an object with an "orders" array, or an array of orders');
          break;
        default:
          throw new ShapeError('unexpected data after the end of the export');
      }
    }
  }

  /** Call at the end of input: the export must be complete. */
  end(): void {
    if (this.mode !== DONE) throw new ShapeError('the file ends before the export does (truncated?)');
  }
}
