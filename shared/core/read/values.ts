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

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A BYTE_ARRAY without a STRING annotation (a BLOB, or a string from a writer that does not
 * annotate them) as text that means the same bytes to a bytea column and the same string to a
 * text column: the UTF-8 text itself when it is valid UTF-8 without a NUL or a backslash (bytea's
 * escape input reads such text as exactly its bytes), else bytea hex (`\x00ff`).
 */
function textOfParquetBytes(bytes: Uint8Array): string {
  if (!bytes.includes(0) && !bytes.includes(0x5c)) {
    try {
      return utf8.decode(bytes);
    } catch {
      // not UTF-8: binary
    }
  }
  return `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}

/**
 * Inside a nested Parquet value (LIST, STRUCT, MAP): a 64-bit integer stays a JSON number with
 * all its digits (never a string, never rounded through a double), NaN and ±Infinity are their
 * names (a float array reads them), binary as `textOfParquetBytes` says.
 */
function parquetJsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return rawJson(value.toString());
  // JSON has no NaN or Infinity (JSON.stringify would write null) and writes -0 as 0.
  if (typeof value === 'number' && !Number.isFinite(value)) return value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  if (Object.is(value, -0)) return rawJson('-0');
  if (value instanceof ParquetJsonText) return JSON.parse(value.text, keepNumberText);
  if (value instanceof ParquetDecimal) return rawJson(value.text);
  if (value instanceof Uint8Array) return textOfParquetBytes(value);
  return value;
}

/**
 * A Parquet value as text. Dates and timestamps arrive as strings already (see
 * `PARQUET_TEXT_PARSERS`); binary as `textOfParquetBytes` says; nested values JSON text (a LIST
 * is a JSON array, which an array column takes as the array; a STRUCT or MAP a JSON object, for
 * json/jsonb columns).
 */
export function textOfParquetValue(value: unknown): TextValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? (Object.is(value, -0) ? '-0' : String(value)) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Uint8Array) return textOfParquetBytes(value);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof ParquetJsonText || value instanceof ParquetDecimal) return value.text;
  return JSON.stringify(value, parquetJsonReplacer);
}

/**
 * A Parquet JSON value, kept as its text: a JSON column stores it as written (spacing, key order,
 * repeated keys); inside a LIST or STRUCT it is that JSON value, not a string holding it.
 */
class ParquetJsonText {
  constructor(readonly text: string) {}
}

/** A Parquet DECIMAL as its exact text (`-12.30` for unscaled -1230 at scale 2). */
class ParquetDecimal {
  constructor(readonly text: string) {}
}

function decimalText(unscaled: bigint, scale: number): string {
  if (scale <= 0) return (unscaled * 10n ** BigInt(-scale)).toString();
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  return `${unscaled < 0n ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
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
  jsonFromBytes: (bytes: Uint8Array | undefined) => (bytes ? new ParquetJsonText(new TextDecoder().decode(bytes)) : bytes),
  // Landfall's patch of hyparquet (patches/hyparquet+…): without it decimals are doubles, exact to ~15 digits.
  decimalFromUnscaled: (unscaled: bigint, scale: number) => new ParquetDecimal(decimalText(unscaled, scale)),
};
