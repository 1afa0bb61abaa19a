import { z } from 'zod';
import { compileDatePattern, DatePatternError } from './read/date-pattern.ts';

/**
 * A table's file format profile (`"format"` in its config): how the producer reads its delimited
 * text files (CSV, TSV, PSV, TXT), and how values written the local way become what PostgreSQL
 * reads. Every field has a default that reads today's files (comma CSV with a header, UTF-8)
 * unchanged. docs/table-config.md has the table of every field.
 */
export const ENCODINGS = ['auto', 'utf-8', 'utf-16le', 'utf-16be', 'windows-1252', 'latin1'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** The delimiters `"auto"` chooses from, in order of preference. */
export const AUTO_DELIMITERS = [',', ';', '\t', '|'] as const;

const oneChar = (what: string) =>
  z
    .string()
    .regex(/^[\t\x20-\x7e]$/, `must be one ASCII character: a tab or a printable one (${what})`);

const headerSchema = z.union([z.boolean(), z.strictObject({ skip: z.number().int().min(0).max(10_000) })], {
  error: 'must be true, false or { "skip": N } (N lines before the header line, 0 to 10000)',
});

export const formatSchema = z.strictObject({
  /** One character, or "auto": the one of , ; tab | that fits the header (see `chooseDelimiter`). */
  delimiter: z.union([z.literal('auto'), oneChar('or "auto"')]).default('auto'),
  /** true: the first line names the columns; false: `fields` does; { skip: N }: N lines come before the header line. */
  header: headerSchema.default(true),
  /** The column names of a file without a header line, in order. */
  fields: z.array(z.string().min(1, 'must not be empty').max(63, 'is longer than PostgreSQL allows (63 bytes)')).min(1, 'needs at least one name').optional(),
  /** Unquoted texts that mean NULL, besides an empty unquoted field (always NULL). */
  nullValues: z.array(z.string()).default(['']),
  quote: oneChar('e.g. "\\""').default('"'),
  /** Inside a quoted field, the character before a quote (or itself) that makes it a character. */
  escape: oneChar('e.g. "\\\\"').optional(),
  encoding: z.enum(ENCODINGS).default('auto'),
  /** Numeric columns: the decimal mark and the thousands separator the file writes. */
  decimal: z.enum(['.', ',']).default('.'),
  thousands: z.enum(['', ',', '.', ' ', "'", '_']).default(''),
  /** Per table column: the PostgreSQL to_date/to_timestamp pattern its values are written in. */
  dates: z.record(z.string().min(1), z.string().min(1, 'must not be empty')).default({}),
  /** Strip spaces and tabs around unquoted fields (and around a quoted field's quotes). */
  trim: z.boolean().default(false),
});

export type FormatConfig = z.output<typeof formatSchema>;
/** The profile of a table without a `format`: today's files. */
export const DEFAULT_FORMAT: FormatConfig = formatSchema.parse({});

/** The fields of `format` (and of `format.header`) for did-you-mean. */
export function formatFieldsAt(path: readonly PropertyKey[]): string[] | undefined {
  if (path.length === 0) return Object.keys(formatSchema.shape);
  if (path[0] === 'header') return ['skip'];
  return undefined;
}

/** The escape character in effect: `escape`, else the quote itself (a doubled quote, as in RFC 4180). */
export const escapeOf = (format: FormatConfig): string => format.escape ?? format.quote;

/** The problems across fields of one profile, each as "format.field: message". */
export function checkFormat(format: FormatConfig): string[] {
  const problems: string[] = [];
  const { delimiter, quote } = format;
  const escape = escapeOf(format);
  if (delimiter === quote) problems.push(`format.quote: "${quote}" is the delimiter too`);
  if (delimiter === escape && escape !== quote) problems.push(`format.escape: "${escape}" is the delimiter too`);
  if (format.thousands !== '' && format.thousands === format.decimal) problems.push(`format.thousands: "${format.thousands}" is the decimal mark too`);
  if (format.decimal === ',' && delimiter === ',') problems.push('format.decimal: "," is the delimiter too (set "delimiter": ";" for files with decimal commas)');
  if (format.header === false && !format.fields) problems.push('format.fields: a file without a header line ("header": false) needs the column names, in order');
  if (format.header !== false && format.fields) {
    problems.push('format.fields: names the columns of a file without a header line; set "header": false, or leave "fields" out and map header names with "columns"');
  }
  if (format.fields && new Set(format.fields).size !== format.fields.length) problems.push('format.fields: names a column twice');
  for (const marker of format.nullValues) {
    if (/[\r\n]/.test(marker)) problems.push(`format.nullValues: ${JSON.stringify(marker)} holds a line break`);
  }
  for (const [column, pattern] of Object.entries(format.dates)) {
    try {
      compileDatePattern(pattern);
    } catch (error) {
      if (!(error instanceof DatePatternError)) throw error;
      problems.push(`format.dates.${column}: ${error.message}`);
    }
  }
  return problems;
}

/** A profile's fields that mean something only for delimited text, set to other than their defaults. */
export function textOnlyFieldsSet(format: FormatConfig): string[] {
  const set: string[] = [];
  if (format.delimiter !== DEFAULT_FORMAT.delimiter) set.push('delimiter');
  if (format.header !== true) set.push('header');
  if (format.fields) set.push('fields');
  if (format.nullValues.length !== 1 || format.nullValues[0] !== '') set.push('nullValues');
  if (format.quote !== DEFAULT_FORMAT.quote) set.push('quote');
  if (format.escape !== undefined && format.escape !== format.quote) set.push('escape');
  if (format.encoding !== 'auto' && format.encoding !== 'utf-8') set.push('encoding');
  if (format.decimal !== '.') set.push('decimal');
  if (format.thousands !== '') set.push('thousands');
  if (format.trim) set.push('trim');
  return set;
}
