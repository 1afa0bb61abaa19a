/**
 * Column-major values as the text of `COPY … FROM STDIN WITH (FORMAT csv)`, a few thousand rows
 * per string. A NULL is an unquoted empty field and every value is quoted, so `""` stays the
 * empty string and commas, quotes, newlines and backslashes stay data (PostgreSQL's CSV rules).
 */
export function* toCopyCsv(columns: readonly (readonly (string | null)[])[], rowsPerChunk = 2000): Generator<string> {
  const count = columns[0]?.length ?? 0;
  for (let from = 0; from < count; from += rowsPerChunk) {
    const lines: string[] = [];
    for (let r = from; r < Math.min(count, from + rowsPerChunk); r++) {
      let line = '';
      for (let c = 0; c < columns.length; c++) {
        const v = columns[c]![r];
        if (c > 0) line += ',';
        if (v !== null && v !== undefined) line += `"${v.includes('"') ? v.replaceAll('"', '""') : v}"`;
      }
      lines.push(line);
    }
    yield `${lines.join('\n')}\n`;
  }
}
