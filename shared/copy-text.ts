// PostgreSQL COPY text format, shared by every bulk writer (inventory-import, job_runs audit).

const SPECIAL = /[\\\t\n\r\0]/;
const SPECIAL_ALL = /[\\\t\n\r\0]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '' };

/** COPY text-format field; NUL cannot be stored in PostgreSQL text, so it is dropped. */
export function copyText(s: string | null): string {
  if (s === null) return '\\N';
  return SPECIAL.test(s) ? s.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : s;
}

/** Chunks start small (a quiet queue flushes a row or two) and double up to this size. */
const FIRST_CHUNK_BYTES = 64 * 1024;
const MAX_CHUNK_BYTES = 1024 * 1024;

/**
 * COPY lines encoded into Buffers as they are added, outside the JavaScript heap: a writer
 * that holds rows for a flush interval then keeps no objects alive for the garbage
 * collector to copy, only bytes.
 */
export class CopyChunks {
  private chunks: Buffer[] = [];
  private current: Buffer | undefined;
  private used = 0;
  private nextSize = FIRST_CHUNK_BYTES;
  rows = 0;

  add(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const worst = line.length * 3;
    if (!this.current || this.used + worst > this.current.length) {
      this.seal();
      this.current = Buffer.allocUnsafe(Math.max(this.nextSize, worst));
      this.nextSize = Math.min(this.nextSize * 2, MAX_CHUNK_BYTES);
    }
    this.used += this.current.write(line, this.used, 'utf8');
    this.rows++;
  }

  get empty(): boolean {
    return this.rows === 0;
  }

  /** Takes everything added so far, leaving this empty. */
  take(): { chunks: Buffer[]; rows: number } {
    this.seal();
    const out = { chunks: this.chunks, rows: this.rows };
    this.chunks = [];
    this.rows = 0;
    this.nextSize = FIRST_CHUNK_BYTES;
    return out;
  }

  private seal(): void {
    if (this.current && this.used > 0) this.chunks.push(this.current.subarray(0, this.used));
    this.current = undefined;
    this.used = 0;
  }
}
