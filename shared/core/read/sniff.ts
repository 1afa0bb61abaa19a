import { AUTO_DELIMITERS } from '../format-config.ts';

export interface DelimiterChoice {
  delimiter: string;
  /** How it was chosen: the header's names are the table's, the lines' field counts agree, or nothing told (the first candidate). */
  how: 'header' | 'sniffed' | 'default';
}

export interface SniffOptions {
  quote: string;
  /** Whether a header name is a column the table knows (after the `columns` mapping). */
  known?: (name: string) => boolean;
  /** Tried first (the file's extension: `.tsv` a tab, `.psv` a pipe). */
  preferred?: string;
  /** Lines before the header line (`header: { skip: N }`). */
  skip?: number;
  /** A file without a header line: the number of its fields (`format.fields`). */
  fieldCount?: number;
}

/** Lines of `text`, complete ones only (the last may be cut), quote-aware: a quoted line break does not end a line. */
function logicalLines(text: string, quote: string, max: number): string[] {
  const lines: string[] = [];
  let start = 0;
  let inQuote = false;
  for (let i = 0; i < text.length && lines.length < max; i++) {
    const c = text[i];
    if (c === quote) inQuote = !inQuote;
    else if (!inQuote && (c === '\n' || c === '\r')) {
      lines.push(text.slice(start, i));
      if (c === '\r' && text[i + 1] === '\n') i++;
      start = i + 1;
    }
  }
  return lines;
}

/** The fields of one line split on `delimiter` (quotes respected, doubled quotes kept as written). */
export function splitLine(line: string, delimiter: string, quote: string): string[] {
  const fields: string[] = [];
  let field = '';
  let inQuote = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === quote) {
      if (inQuote && line[i + 1] === quote) {
        field += quote;
        i++;
      } else inQuote = !inQuote;
    } else if (c === delimiter && !inQuote) {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/**
 * The delimiter of a file whose table says `"delimiter": "auto"`: the one of `,` `;` tab `|`
 * whose split of the header line gives the most columns the table knows; when none gives any,
 * the one whose split gives every one of the first lines the same number of fields (more than
 * one); else the first candidate. Today's comma files keep a comma: a comma is tried first and
 * wins every tie.
 *
 * @example chooseDelimiter('id;name;amount\r\n1;Müller;1.234,50\r\n', { quote: '"', known: (n) => n === 'id' }) // { delimiter: ';', how: 'header' }
 */
export function chooseDelimiter(head: string, options: SniffOptions): DelimiterChoice {
  const candidates = [...new Set([...(options.preferred ? [options.preferred] : []), ...AUTO_DELIMITERS])];
  const lines = logicalLines(head.replace(/^\ufeff/, ''), options.quote, (options.skip ?? 0) + 21)
    .slice(options.skip ?? 0)
    .filter((l) => l.trim() !== '');
  if (lines.length === 0) return { delimiter: candidates[0]!, how: 'default' };
  if (options.fieldCount === undefined && options.known) {
    let best: { delimiter: string; known: number } | null = null;
    for (const delimiter of candidates) {
      const known = splitLine(lines[0]!, delimiter, options.quote).filter((name) => options.known!(name.trim())).length;
      if (known > 0 && (best === null || known > best.known)) best = { delimiter, known };
    }
    if (best) return { delimiter: best.delimiter, how: 'header' };
  }
  const counts = (delimiter: string) => lines.map((l) => splitLine(l, delimiter, options.quote).length);
  if (options.fieldCount !== undefined && options.fieldCount > 1) {
    const fits = candidates.find((d) => counts(d).every((n) => n === options.fieldCount));
    if (fits) return { delimiter: fits, how: 'sniffed' };
  }
  let best: { delimiter: string; agreeing: number } | null = null;
  for (const delimiter of candidates) {
    const n = counts(delimiter);
    const first = n[0]!;
    if (first < 2) continue;
    const agreeing = n.filter((k) => k === first).length;
    if (agreeing === n.length) return { delimiter, how: 'sniffed' };
    if (best === null || agreeing > best.agreeing) best = { delimiter, agreeing };
  }
  return best && best.agreeing * 2 > lines.length ? { delimiter: best.delimiter, how: 'sniffed' } : { delimiter: candidates[0]!, how: 'default' };
}

/**
 * When a header split on `delimiter` is one name that holds another common delimiter, that
 * delimiter (the file is probably delimited by it), else null.
 */
export function likelyDelimiterOf(names: readonly string[], delimiter: string): string | null {
  for (const name of names) {
    for (const other of AUTO_DELIMITERS) {
      if (other !== delimiter && name.includes(other) && name.split(other).length > 1) return other;
    }
  }
  return null;
}
