/**
 * The text side of `landfall sql`: SQL split into statements as PostgreSQL's lexer would, and
 * results printed as psql prints them (its aligned format). Pure: no database here.
 */

/**
 * Splits SQL text into statements at top-level semicolons: not inside '…' (with ''), E'…'
 * (with \'), "…", $tag$…$tag$, -- comments or (nested) block comments. A line that starts
 * with a backslash (`\dt`) is a meta-command of its own, to the end of the line. Each statement
 * keeps its own text (without the semicolon); empty ones are dropped. `complete` is false when
 * the text ends inside a string, a quoted name, a comment or a statement without its semicolon.
 *
 * @example splitStatements("select ';'; \\dt\nselect 2;") // { statements: ["select ';'", '\\dt', 'select 2'], complete: true }
 */
export function splitStatements(text: string): { statements: string[]; complete: boolean } {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  let state: 'code' | 'single' | 'escape' | 'double' | 'line' | 'block' | 'dollar' = 'code';
  let depth = 0;
  let tag = '';
  const push = (end: number) => {
    const statement = text.slice(start, end).trim();
    if (statement.length) statements.push(statement);
  };
  const atLineStart = (at: number) => text.slice(text.lastIndexOf('\n', at - 1) + 1, at).trim() === '';
  while (i < text.length) {
    const ch = text[i]!;
    const next = text[i + 1];
    if (state === 'code') {
      if (ch === '\\' && atLineStart(i) && text.slice(start, i).trim() === '') {
        const end = text.indexOf('\n', i);
        start = i;
        push(end === -1 ? text.length : end);
        i = start = end === -1 ? text.length : end + 1;
        continue;
      }
      if (ch === ';') {
        push(i);
        start = i + 1;
      } else if (ch === "'") state = (text[i - 1] === 'E' || text[i - 1] === 'e') && !/[\w$]/.test(text[i - 2] ?? '') ? 'escape' : 'single';
      else if (ch === '"') state = 'double';
      else if (ch === '-' && next === '-') state = 'line';
      else if (ch === '/' && next === '*') {
        state = 'block';
        depth = 1;
        i++;
      } else if (ch === '$' && !/[\w$]/.test(text[i - 1] ?? '')) {
        const match = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i));
        if (match) {
          state = 'dollar';
          tag = match[0];
          i += tag.length;
          continue;
        }
      }
    } else if (state === 'single' || state === 'double') {
      const quote = state === 'single' ? "'" : '"';
      if (ch === quote && next === quote) i++;
      else if (ch === quote) state = 'code';
    } else if (state === 'escape') {
      if (ch === '\\') i++;
      else if (ch === "'" && next === "'") i++;
      else if (ch === "'") state = 'code';
    } else if (state === 'line') {
      if (ch === '\n') state = 'code';
    } else if (state === 'block') {
      if (ch === '/' && next === '*') {
        depth++;
        i++;
      } else if (ch === '*' && next === '/') {
        depth--;
        i++;
        if (depth === 0) state = 'code';
      }
    } else if (text.startsWith(tag, i)) {
      i += tag.length;
      state = 'code';
      continue;
    }
    i++;
  }
  const rest = text.slice(start).trim();
  const complete = (state === 'code' || state === 'line') && (rest === '' || /^--/.test(rest) || rest.split('\n').every((l) => l.trim() === '' || l.trim().startsWith('--')));
  push(text.length);
  // A trailing comment alone is not a statement.
  if (statements.length && /^(--[^\n]*\s*)+$/.test(statements.at(-1)!)) statements.pop();
  return { statements, complete };
}

/** One result as PostgreSQL sent it: column names and types, and each row's values as text (null: NULL). */
export interface TextResult {
  /** The command tag: `SELECT`, `INSERT`, `CREATE TABLE`, … */
  command: string;
  /** Rows affected or returned, as the tag says (null for a tag without a count). */
  count: number | null;
  /** null: the statement returns no rows (a tag only). */
  columns: { name: string; type: number }[] | null;
  rows: (string | null)[][];
}

/** Type oids psql aligns right: the numbers. */
const NUMERIC_TYPES = new Set([20, 21, 23, 26, 28, 29, 700, 701, 790, 1700]);

/** Display width of a value (psql counts characters; wide characters are out of scope here). */
const width = (text: string) => [...text].length;

/**
 * A result in psql's aligned format (border 1), byte for byte: the header centred, numbers
 * right and text left, the last column never padded on its right, then `(N rows)` and a blank
 * line; a statement without rows prints its tag (`INSERT 0 2`, `CREATE TABLE`). The
 * meta-commands give a `title` (centred over the table) and `footer` lines in place of the count.
 */
export function formatAligned(result: TextResult, options: { title?: string; footer?: readonly string[] } = {}): string {
  if (result.columns === null) return `${commandTag(result)}\n`;
  const { columns, rows } = result;
  const widths = columns.map((c, i) => Math.max(width(c.name), ...rows.map((r) => width(r[i] ?? ''))));
  const last = columns.length - 1;
  const centre = (text: string, w: number) => {
    const left = Math.floor((w - width(text)) / 2);
    return `${' '.repeat(left)}${text}${' '.repeat(w - width(text) - left)}`;
  };
  const header = columns.map((c, i) => ` ${centre(c.name, widths[i]!)} `).join('|');
  const rule = widths.map((w) => '-'.repeat(w + 2)).join('+');
  const lines = rows.map((row) =>
    row
      .map((value, i) => {
        const text = value ?? '';
        const pad = ' '.repeat(widths[i]! - width(text));
        if (NUMERIC_TYPES.has(columns[i]!.type)) return i === last ? ` ${pad}${text}` : ` ${pad}${text} `;
        return i === last ? ` ${text}` : ` ${text}${pad} `;
      })
      .join('|'),
  );
  const head = options.title === undefined ? [] : [`${' '.repeat(Math.max(0, Math.floor((width(header) - width(options.title)) / 2)))}${options.title}`];
  const foot = options.footer ?? [`(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`];
  return `${[...head, header, rule, ...lines, ...foot].join('\n')}\n\n`;
}

/** The tag as psql prints it: `INSERT 0 2` (the oid PostgreSQL still sends), `UPDATE 3`, `CREATE TABLE`. */
export function commandTag(result: Pick<TextResult, 'command' | 'count'>): string {
  if (result.command === 'INSERT') return `INSERT 0 ${result.count ?? 0}`;
  return result.count === null ? result.command : `${result.command} ${result.count}`;
}
