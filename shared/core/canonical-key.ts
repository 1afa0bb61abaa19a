import type { TextValue } from './read/values.ts';

/** What the producer knows of a key column's type (from the catalog snapshot). */
export interface KeyColumnType {
  name: string;
  /** `format_type` with modifier, e.g. `numeric(10,2)`, `timestamp(3) with time zone`. */
  type: string;
  /** Base type after resolving domains: `int8`, `numeric`, `timestamptz`, `citext`... */
  baseType: string;
  /** A domain's base type with the modifier the domain gives it (`numeric(10,2)`), when known. */
  baseFormat?: string | null;
  /** `pg_type.typcategory` (`E` for enums), when known. */
  category?: string | null;
  /** The column's collation when it is not deterministic (only ICU collations can be). */
  collation?: { name: string; deterministic: boolean; locale: string | null } | null;
}

/**
 * How one key column's values are turned into the form the partition is chosen on. Equal
 * values under PostgreSQL's equality for the type give equal forms; `exact: false` says where
 * that is only approximate (or the raw text is used, as before), with the reason.
 */
export interface KeyCanonicalizer {
  exact: boolean;
  /** Why it is not exact (for `doctor`), or how it canonicalises. */
  note: string;
  canonical(raw: string): string;
}

const WS = /^[\s]+|[\s]+$/g;
const trim = (s: string) => s.replace(WS, '');

const raw = (note: string, exact = false): KeyCanonicalizer => ({ exact, note, canonical: (s) => s });

// PostgreSQL 16+ integer input: sign, decimal/0x/0o/0b digits, `_` between digits, spaces around.
const INTEGER = /^([+-])?(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|\d(?:_?\d)*)$/;

/** Already canonical: the common case, answered without parsing. */
const PLAIN_INTEGER = /^-?(?:0|[1-9]\d{0,14})$/;

function canonicalInteger(input: string): string {
  if (PLAIN_INTEGER.test(input)) return input === '-0' ? '0' : input;
  const m = INTEGER.exec(trim(input));
  if (!m) return input;
  const body = m[2]!.replaceAll('_', '');
  const value = BigInt(/^0[xob]/i.test(body) ? body.toLowerCase() : body.replace(/^0+(?=\d)/, ''));
  return (m[1] === '-' ? -value : value).toString();
}

const NUMERIC = /^([+-])?(?:(\d(?:_?\d)*)(?:\.((?:\d(?:_?\d)*)?))?|\.(\d(?:_?\d)*))(?:[eE]([+-]?\d+))?$/;
const MAX_EXPONENT = 4000;

/** `numeric(p,s)` and `numeric(p)` round to the scale on input; plain `numeric` keeps every digit. */
function numericScale(type: string): number | null {
  const m = /^numeric\(\d+(?:,\s*(-?\d+))?\)$/.exec(type);
  return m ? Number(m[1] ?? 0) : null;
}

/** A numeric value as `digits × 10^exponent` in lowest terms, rounded half away from zero to the column's scale. */
const PLAIN_DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.(\d*[1-9]))?$/;

function canonicalNumeric(input: string, scale: number | null): string {
  const plain = PLAIN_DECIMAL.exec(input);
  if (plain && input !== '-0' && (scale === null || (plain[1]?.length ?? 0) <= scale)) return input;
  const text = trim(input);
  const lower = text.toLowerCase();
  if (lower === 'nan') return 'NaN';
  if (/^[+]?(inf|infinity)$/.test(lower)) return 'Infinity';
  if (/^-(inf|infinity)$/.test(lower)) return '-Infinity';
  if (INTEGER.test(text) && /0[xob]/i.test(text)) return canonicalInteger(text);
  const m = NUMERIC.exec(text);
  if (!m) return input;
  const whole = (m[2] ?? '').replaceAll('_', '');
  const fraction = (m[3] ?? m[4] ?? '').replaceAll('_', '');
  const exp = Number(m[5] ?? 0);
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > MAX_EXPONENT) return input;
  let digits = BigInt(`${whole}${fraction}` || '0');
  let exponent = exp - fraction.length;
  if (scale !== null && exponent < -scale) {
    const divisor = 10n ** BigInt(-scale - exponent);
    const rest = digits % divisor;
    digits = digits / divisor + (2n * rest >= divisor ? 1n : 0n);
    exponent = -scale;
  }
  if (digits === 0n) return '0';
  while (digits % 10n === 0n) {
    digits /= 10n;
    exponent++;
  }
  const sign = m[1] === '-' ? '-' : '';
  if (exponent >= 0) return `${sign}${digits}${'0'.repeat(exponent)}`;
  const s = digits.toString().padStart(-exponent + 1, '0');
  return `${sign}${s.slice(0, exponent)}.${s.slice(exponent)}`;
}

const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

function canonicalFloat8(input: string): string {
  const text = trim(input).toLowerCase();
  if (text === 'nan') return 'NaN';
  if (/^[+]?(inf|infinity)$/.test(text)) return 'Infinity';
  if (/^-(inf|infinity)$/.test(text)) return '-Infinity';
  if (!FLOAT.test(text)) return input;
  const n = Number(text);
  return Object.is(n, -0) ? '0' : String(n);
}

// boolin: spaces trimmed, case-insensitive, any unique prefix of true/yes/false/no, on/off, 1/0.
function canonicalBoolean(input: string): string {
  const s = trim(input).toLowerCase();
  if (s === '') return input;
  if ('true'.startsWith(s) || 'yes'.startsWith(s) || s === 'on' || s === '1') return 'true';
  if ('false'.startsWith(s) || 'no'.startsWith(s) || s === 'off' || s === 'of' || s === '0') return 'false';
  return input;
}

// uuid_in: optional braces, hex digits in either case, a hyphen allowed after any group of four.
const PLAIN_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function canonicalUuid(input: string): string {
  if (PLAIN_UUID.test(input)) return input;
  const m = /^\{?([0-9a-fA-F-]+)\}?$/.exec(input);
  if (!m || input.startsWith('{') !== input.endsWith('}')) return input;
  const hex = m[1]!.replaceAll('-', '').toLowerCase();
  if (hex.length !== 32) return input;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const USECS_PER_DAY = 86_400_000_000;
/** 2000-01-01, PostgreSQL's epoch, in days from 1970-01-01. */
const PG_EPOCH_DAYS = 10_957;

/** Days from 1970-01-01 to y-m-d (proleptic Gregorian; Hinnant's days_from_civil), or null when the date does not exist. */
function epochDays(y: number, m: number, d: number): number | null {
  if (m < 1 || m > 12 || d < 1) return null;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (d > [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!) return null;
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

const ISO_DATE = /^(\d{4,})-(\d{1,2})-(\d{1,2})|^(\d{4})(\d{2})(\d{2})$/;
const ISO_TIME = /^(?:[Tt]|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?/;
const OFFSET = /^\s*(?:([Zz])|([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?)$/;

/** A wall-clock reading as whole days from 1970-01-01 plus microseconds into the day (no 2^53 limit on the year). */
interface Instant {
  days: number;
  micros: number;
}

interface ParsedTimestamp extends Instant {
  /** The written UTC offset in seconds, or null when the value has none. */
  offsetSeconds: number | null;
  special?: string;
}

const normalized = ({ days, micros }: Instant): Instant => {
  const carry = Math.floor(micros / USECS_PER_DAY);
  return { days: days + carry, micros: micros - carry * USECS_PER_DAY };
};

// ParseFractionalSecond: rint(strtod(".fff") * 1e6), i.e. through a double, half to even.
function fractionMicros(fraction: string | undefined): number {
  if (!fraction) return 0;
  const x = Number(fraction) * 1e6;
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x);
}

const digitAt = (s: string, i: number) => {
  const c = s.charCodeAt(i) - 0x30;
  return c >= 0 && c <= 9 ? c : -1;
};
/** Two digits at i as a number, or -1. */
const twoDigits = (s: string, i: number) => {
  const a = digitAt(s, i);
  const b = digitAt(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
};

/**
 * The common exact spellings (`2024-06-01T00:00:00Z`, `2024-06-01 00:00:00.123+02:00`) read
 * without regular expressions; anything else returns undefined for the general parser.
 */
function parseIsoFast(s: string): ParsedTimestamp | null | undefined {
  if (s.length < 19 || s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d || s.charCodeAt(13) !== 0x3a || s.charCodeAt(16) !== 0x3a) return undefined;
  const sep = s.charCodeAt(10);
  if (sep !== 0x54 && sep !== 0x20 && sep !== 0x74) return undefined;
  const y1 = twoDigits(s, 0);
  const y2 = twoDigits(s, 2);
  const month = twoDigits(s, 5);
  const day = twoDigits(s, 8);
  const h = twoDigits(s, 11);
  const mi = twoDigits(s, 14);
  const sec = twoDigits(s, 17);
  if (y1 < 0 || y2 < 0 || month < 0 || day < 0 || h < 0 || mi < 0 || sec < 0) return undefined;
  const days = epochDays(y1 * 100 + y2, month, day);
  if (days === null) return null;
  let i = 19;
  let fraction = 0;
  if (s.charCodeAt(i) === 0x2e) {
    let j = i + 1;
    while (digitAt(s, j) >= 0) j++;
    if (j === i + 1) return undefined;
    fraction = fractionMicros(s.slice(i, j));
    i = j;
  }
  const micros = (h * 3600 + mi * 60 + sec) * 1_000_000 + fraction;
  if (i === s.length) return { days, micros, offsetSeconds: null };
  const c = s.charCodeAt(i);
  if ((c === 0x5a || c === 0x7a) && i + 1 === s.length) return { days, micros, offsetSeconds: 0 };
  if (c !== 0x2b && c !== 0x2d) return undefined;
  const oh = twoDigits(s, i + 1);
  if (oh < 0) return undefined;
  let j = i + 3;
  let om = 0;
  if (j < s.length) {
    if (s.charCodeAt(j) === 0x3a) j++;
    om = twoDigits(s, j);
    if (om < 0 || j + 2 !== s.length) return undefined;
  }
  const offset = oh * 3600 + om * 60;
  return { days, micros, offsetSeconds: c === 0x2d ? -offset : offset };
}

function parseTimestamp(input: string, dateOnly = false): ParsedTimestamp | null {
  const fast = dateOnly ? undefined : parseIsoFast(input);
  if (fast !== undefined) return fast;
  const text = trim(input);
  const first = text.charCodeAt(0);
  if (!(first >= 0x30 && first <= 0x39)) {
    const lower = text.toLowerCase();
    if (lower === 'infinity' || lower === '+infinity') return { days: 0, micros: 0, offsetSeconds: 0, special: 'infinity' };
    if (lower === '-infinity') return { days: 0, micros: 0, offsetSeconds: 0, special: '-infinity' };
    if (lower === 'epoch') return { days: 0, micros: 0, offsetSeconds: 0 };
  }
  const d = ISO_DATE.exec(text);
  if (!d) return null;
  const days = epochDays(Number(d[1] ?? d[4]), Number(d[2] ?? d[5]), Number(d[3] ?? d[6]));
  if (days === null) return null;
  let rest = text.slice(d[0].length);
  let micros = 0;
  const t = ISO_TIME.exec(rest);
  if (t) {
    micros = (Number(t[1]) * 3600 + Number(t[2]) * 60 + Number(t[3] ?? 0)) * 1_000_000 + fractionMicros(t[4]);
    rest = rest.slice(t[0].length);
  } else if (dateOnly && /^(?:[Tt]|\s)/.test(rest)) {
    return { days, micros, offsetSeconds: null };
  }
  if (rest === '') return { days, micros, offsetSeconds: null };
  const o = OFFSET.exec(rest);
  if (!o) return dateOnly ? { days, micros, offsetSeconds: null } : null;
  if (o[1]) return { days, micros, offsetSeconds: 0 };
  const seconds = Number(o[3]) * 3600 + Number(o[4] ?? 0) * 60 + Number(o[5] ?? 0);
  return { days, micros, offsetSeconds: o[2] === '-' ? -seconds : seconds };
}

/** `timestamp(3)`… rounds to that many fractional digits (default 6). */
function timestampPrecision(type: string): number {
  const m = /^timestamp\((\d)\)/.exec(type);
  return m ? Math.min(6, Number(m[1])) : 6;
}

// AdjustTimestampForTypmod: half away from zero, counted from PostgreSQL's epoch (2000-01-01).
// A day is a whole number of rounding steps, so only the time of day is rounded.
function roundInstant(instant: Instant, precision: number): Instant {
  if (precision >= 6) return instant;
  const scale = 10 ** (6 - precision);
  const rest = instant.micros % scale;
  const up = instant.days >= PG_EPOCH_DAYS ? rest >= scale / 2 : rest > scale / 2;
  return normalized({ days: instant.days, micros: instant.micros - rest + (up ? scale : 0) });
}

const zoneFormats = new Map<string, Intl.DateTimeFormat | null>();

/** UTC offset (seconds) of a named zone at a UTC instant, from the runtime's tz data; null for a zone it does not know. */
function zoneOffsetSeconds(zone: string, utcMs: number): number | null {
  let format = zoneFormats.get(zone);
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    } catch {
      format = null;
    }
    zoneFormats.set(zone, format);
  }
  if (!format) return null;
  const parts = format.formatToParts(new Date(utcMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((wall - Math.floor(utcMs / 1000) * 1000) / 1000);
}

/**
 * The offset PostgreSQL gives a local wall time in a zone (DetermineTimeZoneOffset): the one in
 * force, and at a transition the "before" offset for a time that does not exist (spring forward),
 * the "after" one for a time that exists twice (fall back).
 */
function localOffsetSeconds(zone: string, wallMs: number): number | null {
  const DAY = 86_400_000;
  const before = zoneOffsetSeconds(zone, wallMs - DAY);
  const after = zoneOffsetSeconds(zone, wallMs + DAY);
  if (before === null || after === null) return null;
  if (before === after) return before;
  const fits = (offset: number) => zoneOffsetSeconds(zone, wallMs - offset * 1000) === offset;
  if (fits(after)) return after;
  return before;
}

const UTC_ZONES = new Set(['utc', 'etc/utc', 'gmt', 'etc/gmt', 'uct', 'etc/uct', 'universal', 'etc/universal', 'zulu', 'etc/zulu', 'gmt0', 'etc/gmt0', 'z']);
export const isUtcZone = (zone: string) => UTC_ZONES.has(zone.toLowerCase());

function canonicalTimestamp(input: string, precision: number, withZone: boolean, zone: string): string {
  const p = parseTimestamp(input);
  if (!p) return input;
  if (p.special) return p.special;
  let instant: Instant = p;
  if (withZone) {
    let offset = p.offsetSeconds;
    if (offset === null) {
      if (isUtcZone(zone)) offset = 0;
      else {
        offset = localOffsetSeconds(zone, p.days * 86_400_000 + Math.floor(p.micros / 1000));
        if (offset === null) return input;
      }
    }
    instant = normalized({ days: p.days, micros: p.micros - offset * 1_000_000 });
  } else {
    instant = normalized(p);
  }
  const { days, micros } = roundInstant(instant, precision);
  return `${days}:${micros}`;
}

function canonicalDate(input: string): string {
  const p = parseTimestamp(input, true);
  if (!p) return input;
  if (p.special) return p.special;
  const days = normalized(p).days;
  if (Math.abs(days) > 100_000_000) return input;
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

/**
 * A deliberately coarse fold for case- and accent-insensitive comparison: compatibility
 * decomposition, combining marks and default-ignorable characters dropped, lower case, and the
 * few letters whose case pairs do not round-trip. Coarser than the collation is harmless (it only
 * puts more keys in one partition); finer would split equal keys.
 */
export function foldText(text: string, ignorePunctuation = false): string {
  let s = text.normalize('NFKD').replace(/[\p{M}\p{Cf}]/gu, '').toLowerCase().replaceAll('ß', 'ss').replaceAll('ς', 'σ').replaceAll('ı', 'i');
  if (ignorePunctuation) s = s.replace(/[\p{P}\p{S}\p{Z}\s]/gu, '');
  return s.normalize('NFC');
}

const bpcharTrim = (s: string) => s.replace(/ +$/, '');

/**
 * The canonicalizer of one key column, chosen from its type (and collation, and the session
 * time zone for `timestamptz` values written without an offset).
 *
 * @example canonicalizerFor({ name: 'id', type: 'bigint', baseType: 'int8' }).canonical(' +05') // '5'
 */
export function canonicalizerFor(key: KeyColumnType, timeZone = 'UTC'): KeyCanonicalizer {
  // A domain rounds as its base type with the domain's modifier does.
  const column = key.baseFormat ? { ...key, type: key.baseFormat } : key;
  const base = column.baseType;
  switch (base) {
    case 'int2':
    case 'int4':
    case 'int8':
      return { exact: true, note: 'integer value', canonical: canonicalInteger };
    case 'numeric': {
      const scale = numericScale(column.type);
      return { exact: true, note: scale === null ? 'numeric value' : `numeric value rounded to scale ${scale}`, canonical: (s) => canonicalNumeric(s, scale) };
    }
    case 'float8':
      return { exact: true, note: 'float8 value', canonical: canonicalFloat8 };
    case 'bool':
      return { exact: true, note: 'boolean value', canonical: canonicalBoolean };
    case 'uuid':
      return { exact: true, note: 'uuid value', canonical: canonicalUuid };
    case 'date':
      return { exact: true, note: 'ISO date (other spellings as written)', canonical: canonicalDate };
    case 'timestamp': {
      const precision = timestampPrecision(column.type);
      return { exact: true, note: 'ISO timestamp (other spellings as written)', canonical: (s) => canonicalTimestamp(s, precision, false, timeZone) };
    }
    case 'timestamptz': {
      const precision = timestampPrecision(column.type);
      const utc = isUtcZone(timeZone);
      const known = utc || zoneOffsetSeconds(timeZone, 0) !== null;
      return {
        exact: known,
        note: utc
          ? 'ISO timestamp as a UTC instant'
          : known
            ? `ISO timestamp as a UTC instant; values without an offset read in the session time zone "${timeZone}" as PostgreSQL does (from this runtime's time zone data)`
            : `ISO timestamp as a UTC instant; values without an offset are partitioned as written (the session time zone "${timeZone}" is unknown to this runtime)`,
        canonical: (s) => canonicalTimestamp(s, precision, true, timeZone),
      };
    }
    case 'citext':
      return { exact: true, note: 'case-folded (citext)', canonical: (s) => foldText(s) };
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'name': {
      const pad = base === 'bpchar' ? bpcharTrim : (s: string) => s;
      const collation = column.collation;
      if (!collation || collation.deterministic) {
        return { exact: true, note: base === 'bpchar' ? 'text without trailing spaces' : 'text as written (deterministic collation)', canonical: pad };
      }
      const locale = (collation.locale ?? '').toLowerCase();
      const ignorePunctuation = /ka-shifted|alternate=shifted/.test(locale);
      const known = /^(und|root|en)?(-|_|@|$)/.test(locale) && /ks-level[12]|colstrength=(primary|secondary)/.test(locale);
      return {
        exact: known,
        note: known
          ? `case-folded (nondeterministic collation "${collation.name}")`
          : `folded for case and accents; the nondeterministic collation "${collation.name}" (${collation.locale ?? 'no locale'}) may equate more than that`,
        canonical: (s) => foldText(pad(s), ignorePunctuation),
      };
    }
    default:
      if (column.category === 'E') return raw('enum label as written', true);
      return raw(`type ${column.type} is not canonicalised: its values are partitioned as written, so equal values spelled differently may land in different partitions`);
  }
}

/**
 * The key values a row is partitioned on: each through its column's canonicalizer. NULL stays
 * NULL. With no canonicalizers (no catalog snapshot) the raw values are used.
 */
export function canonicalKey(canonicalizers: readonly KeyCanonicalizer[] | null, values: readonly TextValue[]): TextValue[] {
  if (!canonicalizers) return values as TextValue[];
  return values.map((v, i) => (v === null ? null : canonicalizers[i]!.canonical(v)));
}
