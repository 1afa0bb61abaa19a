/**
 * Values PostgreSQL can never store, found before anything is bound: a NUL character (0x00)
 * anywhere, which its text input refuses for every type (22021, and it fails the whole bind
 * parameter, so one such value would take down a column array of the whole batch), and a
 * `\u0000` escape inside a string of a jsonb value (22P05: jsonb stores strings as text).
 */
export const NUL = '\u0000';

/** What a NUL is shown as in a quarantined row (the quarantine's jsonb cannot hold a NUL either). */
export const NUL_SHOWN_AS = '\u2400';

export interface UnstorableValue {
  /** Index of the row in the batch. */
  row: number;
  column: string;
  sqlstate: '22021' | '22P05';
  /** What is wrong, without the value. */
  problem: string;
}

/** A batch input to check: its column name and whether the column is jsonb. */
export interface CheckedInput {
  name: string;
  input: number;
  jsonb: boolean;
}

function hasNulString(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(NUL);
  if (Array.isArray(value)) return value.some(hasNulString);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasNulString);
  return false;
}

/** True when a jsonb text holds a string value with `\u0000` (the JSON parse is only paid when the escape appears). */
function jsonbHasNulEscape(text: string): boolean {
  if (!/\\u0000/i.test(text)) return false;
  try {
    return hasNulString(JSON.parse(text));
  } catch {
    return false; // not JSON at all: PostgreSQL's own cast reports that
  }
}

/**
 * The rows of a columnar batch holding a value PostgreSQL can never store, each row once, for
 * its first such column.
 *
 * @example findUnstorableValues([{ name: 't', input: 0, jsonb: false }], [['ok', 'a\u0000b']])
 * // → [{ row: 1, column: 't', sqlstate: '22021', problem: 'contains a NUL byte (0x00) at character 2' }]
 */
export function findUnstorableValues(inputs: readonly CheckedInput[], values: readonly (readonly (string | null)[])[]): UnstorableValue[] {
  const found = new Map<number, UnstorableValue>();
  for (const { name, input, jsonb } of inputs) {
    const column = values[input] ?? [];
    for (let row = 0; row < column.length; row++) {
      const value = column[row];
      if (value === null || value === undefined || found.has(row)) continue;
      const at = value.indexOf(NUL);
      if (at >= 0) {
        found.set(row, { row, column: name, sqlstate: '22021', problem: `contains a NUL byte (0x00) at character ${at + 1}, which PostgreSQL cannot store in any text or jsonb value (shown as ␀ here; fix the file and drop it again)` });
      } else if (jsonb && jsonbHasNulEscape(value)) {
        found.set(row, { row, column: name, sqlstate: '22P05', problem: 'holds a JSON string with \\u0000, which jsonb cannot store (json or text can)' });
      }
    }
  }
  return [...found.values()].sort((a, b) => a.row - b.row);
}

/** A value with every NUL replaced by ␀, so the row can be kept as jsonb in the quarantine. */
export function showNul(value: string | null): string | null {
  return value !== null && value.includes(NUL) ? value.replaceAll(NUL, NUL_SHOWN_AS) : value;
}
