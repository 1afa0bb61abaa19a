import type { Sql } from '../shared/postgres/db.ts';
import { formatAligned, type TextResult } from './sql-text.ts';

/** A meta-command the prompt and `-c` understand, or an error naming what it knows. */
export class MetaCommandError extends Error {
  override name = 'MetaCommandError';
}

export const META_HELP = `General
  \\q                     quit (also Ctrl-D)
  \\?                     this list
Informational
  \\d                     list tables, views and sequences
  \\d  NAME               describe a table or view (columns, indexes, constraints)
  \\dt [PATTERN]          list tables (PATTERN: name or schema.name, * and ? as wildcards)
  \\dn                    list schemas
`;

const TEXT = 25;
const textColumns = (...names: string[]) => names.map((name) => ({ name, type: TEXT }));

/**
 * A psql name pattern (`orders`, `sales.*`, `"Mixed"`) as anchored regular expressions for the
 * schema (null: the relations visible on the search path) and the name, as psql reads one:
 * unquoted letters folded to lower case, `*` any text, `?` one character.
 */
export function namePattern(pattern: string): { schema: string | null; name: string } {
  const parts: string[] = [''];
  let quoted = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    const add = (text: string) => parts.push(`${parts.pop()}${text}`);
    if (ch === '"' && quoted && pattern[i + 1] === '"') {
      add('"');
      i++;
    } else if (ch === '"') quoted = !quoted;
    else if (ch === '.' && !quoted) parts.push('');
    else if (!quoted && ch === '*') add('.*');
    else if (!quoted && ch === '?') add('.');
    else add((quoted ? ch : ch.toLowerCase()).replace(/[\\^$.|+()[\]{}*?]/g, '\\$&'));
  }
  const anchor = (re: string) => `^(${re})$`;
  return parts.length > 1 ? { schema: anchor(parts.at(-2)!), name: anchor(parts.at(-1)!) } : { schema: null, name: anchor(parts[0]!) };
}

const KINDS = `CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index'
  WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table'
  WHEN 'I' THEN 'partitioned index' END`;

/** psql's "List of relations" (\d, \dt): the same query, so the same rows. */
async function listRelations(sql: Sql, kinds: readonly string[], pattern: string | undefined): Promise<string> {
  const p = pattern === undefined ? null : namePattern(pattern);
  const rows = await sql.unsafe<{ schema: string; name: string; type: string; owner: string }[]>(
    `SELECT n.nspname AS schema, c.relname AS name, ${KINDS} AS type, pg_catalog.pg_get_userbyid(c.relowner) AS owner
     FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = ANY($1::"char"[])
       AND CASE WHEN $2::text IS NULL THEN n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema' AND pg_catalog.pg_table_is_visible(c.oid)
                ELSE n.nspname ~ $2 END
       AND ($3::text IS NULL OR c.relname OPERATOR(pg_catalog.~) $3 COLLATE pg_catalog.default)
     ORDER BY 1, 2`,
    [`{${kinds.join(',')}}`, p?.schema ?? null, p?.name ?? null],
  );
  if (rows.length === 0) return pattern === undefined ? 'Did not find any relations.\n' : `Did not find any relation named "${pattern}".\n`;
  const result: TextResult = { command: 'SELECT', count: rows.length, columns: textColumns('Schema', 'Name', 'Type', 'Owner'), rows: rows.map((r) => [r.schema, r.name, r.type, r.owner]) };
  return formatAligned(result, { title: 'List of relations' });
}

async function listSchemas(sql: Sql): Promise<string> {
  const rows = await sql.unsafe<{ name: string; owner: string }[]>(
    `SELECT n.nspname AS name, pg_catalog.pg_get_userbyid(n.nspowner) AS owner FROM pg_catalog.pg_namespace n
     WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ORDER BY 1`,
  );
  return formatAligned({ command: 'SELECT', count: rows.length, columns: textColumns('Name', 'Owner'), rows: rows.map((r) => [r.name, r.owner]) }, { title: 'List of schemas' });
}

const TITLES: Record<string, string> = { r: 'Table', p: 'Partitioned table', v: 'View', m: 'Materialized view', f: 'Foreign table' };

/** psql's `\d NAME` for each table or view the pattern names: columns, then indexes and constraints. */
async function describe(sql: Sql, pattern: string): Promise<string> {
  const p = namePattern(pattern);
  const relations = await sql.unsafe<{ oid: number; schema: string; name: string; kind: string }[]>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind
     FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND CASE WHEN $1::text IS NULL THEN pg_catalog.pg_table_is_visible(c.oid) ELSE n.nspname ~ $1 END
       AND c.relname OPERATOR(pg_catalog.~) $2 COLLATE pg_catalog.default
     ORDER BY 2, 3`,
    [p.schema, p.name],
  );
  if (relations.length === 0) throw new MetaCommandError(`Did not find any relation named "${pattern}".`);
  const out: string[] = [];
  for (const rel of relations) {
    const columns = await sql.unsafe<{ column: string; type: string; collation: string | null; nullable: string; default: string | null }[]>(
      `SELECT a.attname AS column, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
              (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS collation,
              CASE WHEN a.attnotnull THEN 'not null' ELSE '' END AS nullable,
              CASE WHEN a.attidentity = 'a' THEN 'generated always as identity'
                   WHEN a.attidentity = 'd' THEN 'generated by default as identity'
                   WHEN a.attgenerated = 's' THEN 'generated always as (' || pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) || ') stored'
                   ELSE pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) END AS default
       FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [rel.oid],
    );
    const footer: string[] = [];
    if (rel.kind === 'r' || rel.kind === 'p') {
      const indexes = await sql.unsafe<{ name: string; primary: boolean; unique: boolean; constraint: string | null; def: string; valid: boolean }[]>(
        `SELECT c2.relname AS name, i.indisprimary AS primary, i.indisunique AS unique, con.contype AS constraint,
                pg_catalog.pg_get_indexdef(i.indexrelid, 0, true) AS def, i.indisvalid AS valid
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c2 ON c2.oid = i.indexrelid
         LEFT JOIN pg_catalog.pg_constraint con ON con.conrelid = i.indrelid AND con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
         WHERE i.indrelid = $1 ORDER BY i.indisprimary DESC, c2.relname`,
        [rel.oid],
      );
      if (indexes.length) {
        footer.push('Indexes:');
        for (const ix of indexes) {
          const kind = ix.primary ? ' PRIMARY KEY,' : ix.unique ? (ix.constraint === 'u' ? ' UNIQUE CONSTRAINT,' : ' UNIQUE,') : '';
          footer.push(`    "${ix.name}"${kind} ${ix.def.slice(ix.def.indexOf(' USING ') + 7)}${ix.valid ? '' : ' INVALID'}`);
        }
      }
      const constraints = async (where: string) =>
        sql.unsafe<{ name: string; def: string; table: string }[]>(
          `SELECT conname AS name, pg_catalog.pg_get_constraintdef(oid, true) AS def, conrelid::pg_catalog.regclass::text AS table
           FROM pg_catalog.pg_constraint WHERE ${where} ORDER BY conname`,
          [rel.oid],
        );
      const checks = await constraints("conrelid = $1 AND contype = 'c'");
      if (checks.length) footer.push('Check constraints:', ...checks.map((c) => `    "${c.name}" ${c.def}`));
      const foreign = await constraints("conrelid = $1 AND contype = 'f' AND conparentid = 0");
      if (foreign.length) footer.push('Foreign-key constraints:', ...foreign.map((c) => `    "${c.name}" ${c.def}`));
      const referenced = await constraints("confrelid = $1 AND contype = 'f' AND conparentid = 0");
      if (referenced.length) footer.push('Referenced by:', ...referenced.map((c) => `    TABLE "${c.table}" CONSTRAINT "${c.name}" ${c.def}`));
    }
    const result: TextResult = {
      command: 'SELECT',
      count: columns.length,
      columns: textColumns('Column', 'Type', 'Collation', 'Nullable', 'Default'),
      rows: columns.map((c) => [c.column, c.type, c.collation ?? '', c.nullable, c.default ?? '']),
    };
    out.push(formatAligned(result, { title: `${TITLES[rel.kind] ?? 'Relation'} "${rel.schema}.${rel.name}"`, footer }));
  }
  return out.join('');
}

/**
 * Runs a meta-command (`\d`, `\d NAME`, `\dt [PATTERN]`, `\dn`, `\?`) and returns what psql
 * would print. `\q` is the prompt's.
 */
export async function runMetaCommand(sql: Sql, text: string): Promise<string> {
  const [command, ...args] = text.trim().split(/\s+/);
  const pattern = args.join(' ') || undefined;
  switch (command) {
    case '\\?':
      return META_HELP;
    case '\\d':
      return pattern === undefined ? listRelations(sql, ['r', 'p', 'v', 'm', 'S', 'f'], undefined) : describe(sql, pattern);
    case '\\dt':
      return listRelations(sql, ['r', 'p'], pattern);
    case '\\dn':
      return listSchemas(sql);
    default:
      throw new MetaCommandError(`invalid command ${command}; \\? lists the ones landfall sql knows (psql itself knows them all: landfall sql --psql)`);
  }
}
