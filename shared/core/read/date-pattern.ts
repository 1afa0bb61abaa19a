/**
 * PostgreSQL `to_date`/`to_timestamp` template patterns (a subset: the fields real exports use),
 * compiled once into a matcher that turns a value written that way into ISO 8601 text, which
 * PostgreSQL reads the same whatever its DateStyle, and which the canonical key understands.
 *
 * Supported: `YYYY` `YY` `MM` `DD` `Mon` `MON` `mon` `Month` `MONTH` `month` `HH24` `HH12` `HH`
 * `MI` `SS` `MS` `US` `FF1`–`FF6` `AM` `PM` `A.M.` `P.M.` (any case) `TZH` `TZM`, double-quoted
 * literal text (`"T"`), and separators: as in PostgreSQL, a separator of the pattern (a space or
 * punctuation) matches any one separator of the value (`DD.MM.YYYY` reads `05/01/2026` too).
 */

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

type Field = 'year' | 'year2' | 'month' | 'monthName' | 'monthAbbrev' | 'day' | 'hour24' | 'hour12' | 'minute' | 'second' | 'ms' | 'us' | 'fraction' | 'ampm' | 'tzh' | 'tzm';

const TOKENS: { token: string; field: Field; regex: string; caseless?: true }[] = [
  { token: 'YYYY', field: 'year', regex: '(\\d{4})' },
  { token: 'YY', field: 'year2', regex: '(\\d{2})' },
  { token: 'MONTH', field: 'monthName', regex: '([A-Za-z]{3,9})', caseless: true },
  { token: 'MON', field: 'monthAbbrev', regex: '([A-Za-z]{3})', caseless: true },
  { token: 'MM', field: 'month', regex: '(\\d{1,2})' },
  { token: 'DD', field: 'day', regex: '(\\d{1,2})' },
  { token: 'HH24', field: 'hour24', regex: '(\\d{1,2})' },
  { token: 'HH12', field: 'hour12', regex: '(\\d{1,2})' },
  { token: 'HH', field: 'hour12', regex: '(\\d{1,2})' },
  { token: 'MI', field: 'minute', regex: '(\\d{1,2})' },
  { token: 'SS', field: 'second', regex: '(\\d{1,2})' },
  { token: 'MS', field: 'ms', regex: '(\\d{1,3})' },
  { token: 'US', field: 'us', regex: '(\\d{1,6})' },
  ...[6, 5, 4, 3, 2, 1].map((n) => ({ token: `FF${n}`, field: 'fraction' as const, regex: `(\\d{1,${n}})` })),
  { token: 'A.M.', field: 'ampm', regex: '([AaPp]\\.[Mm]\\.)', caseless: true },
  { token: 'P.M.', field: 'ampm', regex: '([AaPp]\\.[Mm]\\.)', caseless: true },
  { token: 'AM', field: 'ampm', regex: '([AaPp][Mm])', caseless: true },
  { token: 'PM', field: 'ampm', regex: '([AaPp][Mm])', caseless: true },
  { token: 'TZH', field: 'tzh', regex: '([+-]\\d{1,2})' },
  { token: 'TZM', field: 'tzm', regex: '(\\d{2})' },
];

const SEPARATOR = '[^A-Za-z0-9]';

export class DatePatternError extends Error {
  override name = 'DatePatternError';
}

export interface DatePattern {
  pattern: string;
  /** Whether the pattern has a time of day (else the value is a date). */
  hasTime: boolean;
  /** The value as ISO 8601 text, or null when it is not written in this pattern. */
  toIso(value: string): string | null;
}

/**
 * Compiles a pattern; throws `DatePatternError` naming what it does not know.
 *
 * @example compileDatePattern('DD.MM.YYYY HH24:MI').toIso('05.01.2026 13:45') // '2026-01-05 13:45:00'
 */
export function compileDatePattern(pattern: string): DatePattern {
  let regex = '^\\s*';
  const fields: Field[] = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '"') {
      const end = pattern.indexOf('"', i + 1);
      if (end < 0) throw new DatePatternError(`a quoted literal in "${pattern}" is never closed`);
      regex += pattern.slice(i + 1, end).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i = end + 1;
      continue;
    }
    const upper = pattern.slice(i).toUpperCase();
    const token = TOKENS.find((t) => upper.startsWith(t.token));
    if (token) {
      if (fields.includes(token.field) && token.field !== 'ampm') throw new DatePatternError(`"${pattern}" has ${token.token} twice`);
      regex += token.regex;
      fields.push(token.field);
      i += token.token.length;
      continue;
    }
    if (/[A-Za-z0-9]/.test(c)) throw new DatePatternError(`"${pattern}": unknown field at "${pattern.slice(i)}" (known: YYYY YY MM DD Mon Month HH24 HH12 HH MI SS MS US FF1-FF6 AM PM TZH TZM, "literal text")`);
    regex += c === ' ' ? '\\s+' : SEPARATOR;
    i++;
  }
  regex += '\\s*$';
  const has = (f: Field) => fields.includes(f);
  if (!has('year') && !has('year2')) throw new DatePatternError(`"${pattern}" has no year (YYYY or YY)`);
  if (!has('month') && !has('monthName') && !has('monthAbbrev')) throw new DatePatternError(`"${pattern}" has no month (MM, Mon or Month)`);
  if (!has('day')) throw new DatePatternError(`"${pattern}" has no day (DD)`);
  if (has('hour12') !== has('ampm')) throw new DatePatternError(`"${pattern}": HH/HH12 needs AM or PM (or use HH24)`);
  const matcher = new RegExp(regex);
  const hasTime = fields.some((f) => f === 'hour24' || f === 'hour12');
  const two = (n: number) => String(n).padStart(2, '0');
  return {
    pattern,
    hasTime,
    toIso(value: string): string | null {
      const m = matcher.exec(value);
      if (!m) return null;
      const got: Partial<Record<Field, string>> = {};
      fields.forEach((f, k) => (got[f] = m[k + 1]!));
      let year = got.year !== undefined ? Number(got.year) : Number(got.year2);
      // PostgreSQL's YY: the year nearest 2020.
      if (got.year === undefined) year += year < 70 ? 2000 : 1900;
      let month = Number(got.month ?? 0);
      const name = (got.monthName ?? got.monthAbbrev)?.toLowerCase();
      if (name !== undefined) {
        month = 1 + MONTHS.findIndex((full) => (got.monthName !== undefined ? full === name : full.startsWith(name)));
        if (month === 0) return null;
      }
      const date = `${String(year).padStart(4, '0')}-${two(month)}-${two(Number(got.day))}`;
      if (!hasTime) return date;
      let hour = Number(got.hour24 ?? got.hour12);
      if (got.ampm !== undefined) {
        if (hour < 1 || hour > 12) return null;
        const pm = got.ampm[0]!.toLowerCase() === 'p';
        hour = (hour % 12) + (pm ? 12 : 0);
      }
      let time = `${two(hour)}:${two(Number(got.minute ?? 0))}:${two(Number(got.second ?? 0))}`;
      const fraction = got.fraction ?? (got.us !== undefined ? got.us.padStart(6, '0') : got.ms !== undefined ? got.ms.padStart(3, '0') : undefined);
      if (fraction !== undefined) time += `.${fraction}`;
      let zone = '';
      if (got.tzh !== undefined) zone = `${got.tzh[0]}${two(Math.abs(Number(got.tzh)))}:${got.tzm ?? '00'}`;
      return `${date} ${time}${zone}`;
    },
  };
}
