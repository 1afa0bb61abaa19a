/**
 * Values travel as text; PostgreSQL casts them to the column types. `null` is SQL NULL.
 */
export type TextValue = string | null;

/** A number kept as the text it had in the file (`JSON.rawJSON`, Node 21+). */
interface RawJson {
  readonly rawJSON: string;
}
const rawJson = (JSON as unknown as { rawJSON(text: string): RawJson }).rawJSON;
const isRawJson = (value: unknown): value is RawJson => typeof value === 'object' && value !== null && 'rawJSON' in value;

/** What a parsed JSON value is, for a reason: a top-level number parsed with `keepNumberText` is a number, not an object. */
export function jsonKindOf(value: unknown): 'object' | 'an array' | 'null' | string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (isRawJson(value)) return 'number';
  return typeof value;
}

/**
 * A JSON.parse reviver that keeps every number as its source text, so `9007199254740993` or
 * `0.10000000000000000001` reach PostgreSQL as written, never rounded through a double (two
 * bigint ids that a double would merge stay two keys). Nested numbers too: JSON.stringify
 * writes raw JSON as it is.
 */
export function keepNumberText(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  return typeof value === 'number' && context?.source !== undefined ? rawJson(context.source) : value;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * An NDJSON field as text: `null` → NULL, strings as they are, numbers and booleans as
 * their JSON text, objects and arrays as their JSON text (for json/jsonb columns).
 */
export function textOfJsonValue(value: unknown): TextValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (isRawJson(value)) return value.rawJSON;
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  return JSON.stringify(value, jsonReplacer);
}

/**
 * A Parquet value as text. Dates and timestamps arrive as strings already (see
 * `PARQUET_TEXT_PARSERS`); binary becomes bytea hex (`\x00ff`); nested values JSON text.
 */
export function textOfParquetValue(value: unknown): TextValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value, jsonReplacer);
}

const MS_PER_DAY = 86_400_000n;

function isoFromEpoch(units: bigint, perSecond: bigint, digits: number): string {
  const seconds = units / perSecond - (units % perSecond < 0n ? 1n : 0n);
  const fraction = units - seconds * perSecond;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}.${fraction.toString().padStart(digits, '0')}Z`;
}

/**
 * hyparquet parsers that keep full precision: timestamps as ISO 8601 text with all their
 * digits (micro- and nanoseconds included), dates as `YYYY-MM-DD`, JSON columns as their text.
 */
export const PARQUET_TEXT_PARSERS = {
  timestampFromMilliseconds: (millis: bigint) => isoFromEpoch(BigInt(millis), 1000n, 3),
  timestampFromMicroseconds: (micros: bigint) => isoFromEpoch(BigInt(micros), 1_000_000n, 6),
  timestampFromNanoseconds: (nanos: bigint) => isoFromEpoch(BigInt(nanos), 1_000_000_000n, 9),
  dateFromDays: (days: number) => new Date(Number(BigInt(days) * MS_PER_DAY)).toISOString().slice(0, 10),
  jsonFromBytes: (bytes: Uint8Array | undefined) => (bytes ? new TextDecoder().decode(bytes) : bytes),
};
