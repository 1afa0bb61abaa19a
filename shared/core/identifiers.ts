/** Quotes one SQL identifier (`"a""b"`): the only way a name enters SQL text. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('empty SQL identifier');
  if (name.includes('\0')) throw new Error('SQL identifier contains a NUL byte');
  return `"${name.replaceAll('"', '""')}"`;
}

export interface QualifiedName {
  schema: string;
  name: string;
}

/**
 * Splits a configured table name into schema and table. `orders` is `public.orders`;
 * `sales.orders` is schema `sales`. Quoted parts keep their dots: `"a.b".c`.
 */
export function parseTableName(input: string, defaultSchema = 'public'): QualifiedName {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < input.length; i++) {
    const ch = input[i]!;
    if (quoted) {
      if (ch === '"' && input[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else current += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === '.') {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  if (quoted) throw new Error(`table name ${JSON.stringify(input)} has an unclosed quote`);
  parts.push(current);
  if (parts.length > 2 || parts.some((p) => p.length === 0)) {
    throw new Error(`table name ${JSON.stringify(input)} must be "table" or "schema.table"`);
  }
  return parts.length === 2 ? { schema: parts[0]!, name: parts[1]! } : { schema: defaultSchema, name: parts[0]! };
}

export function quoteQualified(name: QualifiedName): string {
  return `${quoteIdent(name.schema)}.${quoteIdent(name.name)}`;
}
