import { keepNumberText } from './read/values.ts';

/**
 * Array columns from every format. A file carries an array as a PostgreSQL array literal (CSV:
 * `{1,2,3}`, `{{1,2},{3,4}}`, `[0:1]={a,b}`) or as a JSON array (an NDJSON array, a Parquet
 * LIST, both read as their JSON text `[1,2,3]`; a CSV field may hold one too). A JSON array text
 * is never a valid array literal (a literal starts with `{`, or with `[lo:hi]=` which is not
 * JSON), so the two are told apart without doubt: a value of an array column that parses as a
 * JSON array is rewritten as the literal PostgreSQL's `array_in` reads as the same array; any
 * other value is left for PostgreSQL to read (or refuse).
 */

/** How a column's JSON arrays become literals: `json`/`jsonb` elements are JSON values, nested arrays included. */
export interface ArrayColumn {
  /** Batch input (column position) of the array column. */
  input: number;
  /** The element type is json or jsonb: nested JSON arrays are elements, not dimensions. */
  jsonElements: boolean;
  /** Element delimiter of the type (`;` for box, `,` for everything else). */
  delimiter?: string;
}

interface RawJson {
  readonly rawJSON: string;
}
const isRawJson = (value: unknown): value is RawJson => typeof value === 'object' && value !== null && 'rawJSON' in value;

/** An element quoted for an array literal: backslash and double quote escaped. */
const quoted = (text: string) => `"${text.replace(/[\\"]/g, '\\$&')}"`;

const jsonText = (value: unknown) => JSON.stringify(value);

function elementOf(value: unknown, jsonElements: boolean, delimiter: string): string {
  if (value === null) return 'NULL';
  if (jsonElements) return quoted(jsonText(value));
  if (Array.isArray(value)) return `{${value.map((v) => elementOf(v, false, delimiter)).join(delimiter)}}`;
  if (typeof value === 'string') return quoted(value);
  if (isRawJson(value)) return quoted(value.rawJSON);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  // A nested object: its JSON text, which the element type's input then accepts or refuses.
  return quoted(jsonText(value));
}

/**
 * The array literal of a JSON array text, or null when `text` is not a JSON array (a literal
 * already, or something PostgreSQL will refuse by itself). Numbers keep the digits they were
 * written with; JSON `null` elements are SQL NULL.
 *
 * @example pgArrayOfJsonText('[1, "a,b", null]', false) // '{"1","a,b",NULL}'
 * @example pgArrayOfJsonText('[[1,2],[3,4]]', false)      // '{{"1","2"},{"3","4"}}'
 * @example pgArrayOfJsonText('[{"a":1},[2]]', true)       // '{"{\"a\":1}","[2]"}'
 */
export function pgArrayOfJsonText(text: string, jsonElements: boolean, delimiter = ','): string | null {
  let i = 0;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  if (text[i] !== '[') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, keepNumberText);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed)) return null;
  return `{${parsed.map((v) => elementOf(v, jsonElements, delimiter)).join(delimiter)}}`;
}

/**
 * A batch's values with every JSON array of an array column rewritten as an array literal; the
 * same arrays (not copied) when there is nothing to rewrite.
 */
export function withArrayLiterals(columns: readonly ArrayColumn[], values: readonly (readonly (string | null)[])[]): (readonly (string | null)[])[] {
  if (columns.length === 0) return values as (readonly (string | null)[])[];
  const out = [...values];
  for (const { input, jsonElements, delimiter } of columns) {
    const column = values[input];
    if (!column) continue;
    let rewritten: (string | null)[] | null = null;
    for (let r = 0; r < column.length; r++) {
      const value = column[r];
      if (value === null || value === undefined) continue;
      const literal = pgArrayOfJsonText(value, jsonElements, delimiter);
      if (literal === null) continue;
      rewritten ??= [...column];
      rewritten[r] = literal;
    }
    if (rewritten) out[input] = rewritten;
  }
  return out;
}

/** One element of an array literal: its subscripts (`[2][1]`) and its text (null for NULL). */
export interface ArrayElement {
  position: string;
  value: string | null;
}

/**
 * The elements of an array literal as `array_in` reads them (dimension decoration, nested
 * braces, quoted and unquoted elements, backslash escapes, NULL), with their subscripts; null
 * when the text is not a well-formed literal (PostgreSQL's own message then says why).
 *
 * @example arrayElementsOf('{{1,2},{3,NULL}}') // [{ position: '[1][1]', value: '1' }, …, { position: '[2][2]', value: null }]
 */
export function arrayElementsOf(text: string, delimiter = ','): ArrayElement[] | null {
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const lower: number[] = [];
  skipSpace();
  while (text[i] === '[') {
    const m = /^\[\s*([+-]?\d+)\s*(?::\s*([+-]?\d+)\s*)?\]/.exec(text.slice(i));
    if (!m) return null;
    lower.push(m[2] === undefined ? 1 : Number(m[1]));
    i += m[0].length;
    skipSpace();
  }
  if (lower.length) {
    if (text[i] !== '=') return null;
    i++;
    skipSpace();
  }
  const elements: ArrayElement[] = [];
  const position = (path: number[]) => path.map((n, d) => `[${n + (lower[d] ?? 1)}]`).join('');
  /** Reads `{…}` at i; false when malformed. */
  const readArray = (path: number[]): boolean => {
    if (text[i] !== '{') return false;
    i++;
    skipSpace();
    if (text[i] === '}') {
      i++;
      return true;
    }
    for (let k = 0; ; k++) {
      skipSpace();
      const here = [...path, k];
      if (text[i] === '{') {
        if (!readArray(here)) return false;
      } else {
        let value = '';
        let wasQuoted = false;
        if (text[i] === '"') {
          wasQuoted = true;
          i++;
          while (i < text.length && text[i] !== '"') {
            if (text[i] === '\\') i++;
            value += text[i++] ?? '';
          }
          if (text[i] !== '"') return false;
          i++;
        } else {
          while (i < text.length && text[i] !== delimiter && text[i] !== '}' && text[i] !== '{' && text[i] !== '"') {
            if (text[i] === '\\') i++;
            value += text[i++] ?? '';
          }
          value = value.trim();
          if (value === '') return false;
        }
        elements.push({ position: position(here), value: !wasQuoted && value.toUpperCase() === 'NULL' ? null : value });
      }
      skipSpace();
      if (text[i] === delimiter) {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return true;
      }
      return false;
    }
  };
  if (!readArray([])) return null;
  skipSpace();
  return i === text.length ? elements : null;
}
