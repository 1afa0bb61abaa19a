import { gzipSync } from 'node:zlib';
import { parseConfig, type LandfallConfig } from '../../shared/core/config.ts';

/** A config with one table `orders` (key `id`, 4 partitions) unless told otherwise. */
export function producerConfigFactory(overrides: { tables?: unknown[]; batch?: { maxRows?: number; maxBytes?: number } } = {}): LandfallConfig {
  return parseConfig({
    tables: overrides.tables ?? [{ table: 'orders', conflictKey: ['id'], partitions: 4 }],
    ...(overrides.batch ? { batch: { maxRows: 10_000, maxBytes: 8 * 1024 * 1024, ...overrides.batch } } : {}),
  });
}

export type Row = Record<string, string | number | boolean | null>;

/** `count` rows `{ id, name, amount }` with ids 1..count. */
export function orderRows(count: number, start = 1): Row[] {
  return Array.from({ length: count }, (_, i) => ({ id: start + i, name: `name ${start + i}`, amount: (start + i) * 1.5 }));
}

function csvField(value: Row[string]): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) || text === '' ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV text with a header; `null` as an empty unquoted field, `''` as `""`. */
export function csvOf(rows: Row[], options: { eol?: string; columns?: string[] } = {}): string {
  const eol = options.eol ?? '\n';
  const columns = options.columns ?? Object.keys(rows[0] ?? {});
  const lines = [columns.join(','), ...rows.map((row) => columns.map((c) => csvField(row[c] ?? null)).join(','))];
  return lines.join(eol) + eol;
}

export function ndjsonOf(rows: Row[]): string {
  return rows.map((row) => JSON.stringify(row)).join('\n') + '\n';
}

export function gzipOf(text: string | Uint8Array): Buffer {
  return gzipSync(text);
}

/**
 * A Parquet file of these rows, typed by the first non-null value of each column: integers
 * INT64, other numbers DOUBLE, booleans BOOLEAN, strings STRING.
 */
export async function parquetOf(rows: Row[], options: { rowGroupSize?: number } = {}): Promise<Buffer> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const columns = Object.keys(rows[0] ?? {});
  const columnData = columns.map((name) => {
    const sample = rows.map((row) => row[name]).find((v) => v !== null && v !== undefined);
    if (typeof sample === 'number' && rows.every((row) => row[name] === null || Number.isInteger(row[name]))) {
      return { name, type: 'INT64' as const, data: rows.map((row) => (row[name] === null ? null : BigInt(row[name] as number))) };
    }
    if (typeof sample === 'number') return { name, type: 'DOUBLE' as const, data: rows.map((row) => row[name] ?? null) };
    if (typeof sample === 'boolean') return { name, type: 'BOOLEAN' as const, data: rows.map((row) => row[name] ?? null) };
    return { name, type: 'STRING' as const, data: rows.map((row) => (row[name] === null ? null : String(row[name]))) };
  });
  return Buffer.from(parquetWriteBuffer({ columnData, ...(options.rowGroupSize ? { rowGroupSize: options.rowGroupSize } : {}) }));
}

/** Chunks a buffer into pieces of `size` bytes, as a stream would deliver it. */
export async function* chunked(bytes: Uint8Array | string, size = 7): AsyncGenerator<Uint8Array> {
  const buffer = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes);
  for (let i = 0; i < buffer.length; i += size) yield buffer.subarray(i, i + size);
}

/** All events of an async iterable. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
