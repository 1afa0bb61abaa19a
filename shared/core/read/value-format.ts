import type { FormatConfig } from '../format-config.ts';
import { compileDatePattern } from './date-pattern.ts';
import type { TextValue } from './values.ts';

/** PostgreSQL base types whose input takes a number (domains resolve to these). */
const NUMERIC_TYPES = new Set(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8']);

function digitsOnly(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

const escapeRegex = (c: string) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A number written with `decimal` and `thousands` as PostgreSQL reads it (`1.234,50` →
 * `1234.50`), or null when it is not written that way (it is then left as written: `1.5` with a
 * decimal comma is not converted, and PostgreSQL reads it as it would).
 */
export function numberReaderOf(decimal: string, thousands: string): (text: string) => string | null {
  const d = escapeRegex(decimal);
  const whole = thousands === '' ? '\\d+' : `\\d{1,3}(?:${escapeRegex(thousands)}\\d{3})+|\\d+`;
  const pattern = new RegExp(`^\\s*([+-]?)(${whole})?(?:${d}(\\d+))?(?:[eE]([+-]?\\d+))?\\s*$`);
  const strip = thousands === '' ? null : new RegExp(escapeRegex(thousands), 'g');
  return (text) => {
    // Most values have neither mark (an integer id): nothing to rewrite.
    const k = text.indexOf(decimal);
    if (k < 0 && (thousands === '' || text.indexOf(thousands) < 0)) return null;
    // The common case without a regex: [sign] digits, the decimal mark, digits.
    if (k > 0 && k + 1 < text.length && (thousands === '' || text.indexOf(thousands) < 0)) {
      const from = text.charCodeAt(0) === 0x2d || text.charCodeAt(0) === 0x2b ? 1 : 0;
      if (k > from && digitsOnly(text, from, k) && digitsOnly(text, k + 1, text.length)) return text.replace(decimal, '.');
    }
    const m = pattern.exec(text);
    if (!m || (m[2] === undefined && m[3] === undefined)) return null;
    const integer = m[2] === undefined ? '0' : strip ? m[2].replace(strip, '') : m[2];
    return `${m[1]}${integer}${m[3] !== undefined ? `.${m[3]}` : ''}${m[4] !== undefined ? `e${m[4]}` : ''}`;
  };
}

export interface ValueConverter {
  /** Rewrites a row's values in place (by file column index). */
  convert(values: TextValue[]): void;
}

/**
 * What the profile's `decimal`, `thousands` and `dates` do to a file's rows: numbers in numeric
 * columns and dates in the named columns become the text PostgreSQL reads whatever its locale
 * and DateStyle, before the canonical key is taken (so `05.01.2026` and `2026-01-05` are one key
 * of a date column). A value not written in the profile's way is left as written, for PostgreSQL
 * to cast as it would (ISO dates and plain numbers still read; anything else is quarantined per
 * row). Null when the profile changes nothing (today's files: no cost).
 *
 * `columns`: the table column of each file column; `numeric(name)`: whether a column takes
 * numbers (from the catalog snapshot), or null when the types are not known.
 */
export function valueConverterOf(format: Pick<FormatConfig, 'decimal' | 'thousands' | 'dates'>, columns: readonly string[], numeric: ((column: string) => boolean) | null): ValueConverter | null {
  const steps: { index: number; read: (text: string) => string | null }[] = [];
  if (format.decimal !== '.' || format.thousands !== '') {
    if (numeric === null) throw new Error('the number format needs the column types');
    const read = numberReaderOf(format.decimal, format.thousands);
    columns.forEach((column, index) => {
      if (numeric(column)) steps.push({ index, read });
    });
  }
  for (const [column, pattern] of Object.entries(format.dates)) {
    const date = compileDatePattern(pattern);
    columns.forEach((c, index) => {
      if (c === column) steps.push({ index, read: (text) => date.toIso(text) });
    });
  }
  if (steps.length === 0) return null;
  return {
    convert(values) {
      for (const { index, read } of steps) {
        const value = values[index];
        if (value === null || value === undefined) continue;
        const converted = read(value);
        if (converted !== null) values[index] = converted;
      }
    },
  };
}

/** Whether a catalog base type takes numbers. */
export const isNumericType = (baseType: string): boolean => NUMERIC_TYPES.has(baseType);
