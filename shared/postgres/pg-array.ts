/**
 * Serialises values as a PostgreSQL array literal (`{"a",NULL,"b\"c"}`), so that a whole
 * column travels as ONE bind parameter, whatever the row count. Every element is quoted,
 * so commas, braces, backslashes and the word NULL inside values stay data.
 */
export function toPgArrayLiteral(values: readonly (string | number | null)[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts[i] = 'NULL';
    else if (typeof v === 'number') parts[i] = String(v);
    else parts[i] = `"${v.replace(/[\\"]/g, '\\$&')}"`;
  }
  return `{${parts.join(',')}}`;
}
