import type postgres from 'postgres';
import type { CatalogColumn, PartitionedLevel, TableCatalog, UniqueIndex } from '../core/catalog-types.ts';
import { quoteQualified, type QualifiedName } from '../core/identifiers.ts';

export class TableNotFoundError extends Error {
  override name = 'TableNotFoundError';
  readonly table: QualifiedName;
  constructor(table: QualifiedName, options?: ErrorOptions) {
    super(`table ${table.schema}.${table.name} does not exist (or this user cannot see it)`, options);
    this.table = table;
  }
}

/** Reads columns, types and unique indexes of one table from the system catalog. */
export async function loadCatalog(sql: postgres.Sql | postgres.TransactionSql, table: QualifiedName): Promise<TableCatalog> {
  const quoted = quoteQualified(table);
  // A partitioned table has no rows of its own: its estimate is its leaf partitions' (-1 while
  // none of them was ever analyzed).
  const [rel] = await sql<{ oid: number; reltuples: number; timeZone: string }[]>`
    SELECT c.oid::int8::float8 AS oid,
           CASE WHEN c.relkind = 'p' THEN coalesce(
             (SELECT sum(greatest(l.reltuples, 0)) FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid
              WHERE t.isleaf HAVING max(l.reltuples) >= 0), -1)
           ELSE c.reltuples END::float8 AS reltuples,
           current_setting('TimeZone') AS "timeZone"
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${table.schema} AND c.relname = ${table.name} AND c.relkind IN ('r', 'p')`;
  if (!rel) throw new TableNotFoundError(table);
  const oid = rel.oid;
  const columns = await sql<CatalogColumn[]>`
    SELECT a.attname AS name,
           format_type(a.atttypid, a.atttypmod) AS type,
           -- format_type without a modifier names bit and char as bit(1) and char(1), which a cast truncates to
           CASE a.atttypid WHEN 'bit'::regtype THEN 'bit varying' WHEN 'bit[]'::regtype THEN 'bit varying[]'
                           WHEN 'bpchar'::regtype THEN 'bpchar' WHEN 'bpchar[]'::regtype THEN 'bpchar[]'
                           ELSE format_type(a.atttypid, NULL) END AS "castType",
           coalesce(bt.typname, t.typname) AS "baseType",
           CASE WHEN bt.oid IS NOT NULL THEN format_type(bt.oid, bt.typmod) END AS "baseFormat",
           a.attnotnull AS "notNull",
           (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS "hasDefault",
           (a.attgenerated <> '') AS generated,
           -- What an INSERT that leaves the column out would write, as SQL (an absent value on insert).
           CASE WHEN a.attidentity <> '' THEN format('nextval(%L::regclass)', pg_get_serial_sequence(${quoted}, a.attname))
                WHEN a.attgenerated <> '' THEN NULL
                WHEN a.atthasdef THEN pg_get_expr(ad.adbin, ad.adrelid)
                WHEN t.typtype = 'd' THEN pg_get_expr(t.typdefaultbin, 0) END AS "defaultExpr",
           EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = a.attrelid AND k.contype = 'c' AND a.attnum = ANY (k.conkey)) AS checked,
           coalesce(bt.typcategory, t.typcategory)::text AS category,
           CASE WHEN co.oid IS NOT NULL THEN jsonb_build_object(
             'schema', con.nspname, 'name', co.collname, 'deterministic', co.collisdeterministic,
             -- the ICU locale moved from colliculocale (15, 16) to colllocale (17)
             'locale', coalesce(to_jsonb(co) ->> 'colllocale', to_jsonb(co) ->> 'colliculocale', co.collcollate)) END AS collation
    FROM pg_attribute a
    JOIN pg_type t ON t.oid = a.atttypid
    -- a domain's base type, through domains over domains
    LEFT JOIN LATERAL (
      WITH RECURSIVE d(oid, typmod, depth) AS (
        SELECT t.typbasetype, t.typtypmod, 1 WHERE t.typtype = 'd'
        UNION ALL
        SELECT x.typbasetype, CASE WHEN d.typmod >= 0 THEN d.typmod ELSE x.typtypmod END, d.depth + 1
        FROM d JOIN pg_type x ON x.oid = d.oid WHERE x.typtype = 'd'
      )
      SELECT b.oid, b.typname, b.typcategory, d.typmod FROM d JOIN pg_type b ON b.oid = d.oid ORDER BY d.depth DESC LIMIT 1
    ) bt ON true
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 'pg_catalog.default'::regcollation
    LEFT JOIN pg_namespace con ON con.oid = co.collnamespace
    WHERE a.attrelid = ${oid}::oid AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum`;
  const uniqueIndexes = await sql<UniqueIndex[]>`
    SELECT ic.relname AS name,
           ARRAY(SELECT a.attname::text
                 FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 WHERE k.n <= i.indnkeyatts AND k.attnum > 0
                 ORDER BY k.n) AS columns,
           i.indisprimary AS primary,
           con.conname AS constraint,
           (i.indpred IS NOT NULL) AS partial,
           (i.indexprs IS NOT NULL) AS expression,
           i.indnullsnotdistinct AS "nullsNotDistinct",
           (i.indisvalid AND i.indisready) AS valid,
           coalesce(con.condeferrable, false) AS deferrable,
           pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u')
    WHERE i.indrelid = ${oid}::oid AND i.indisunique
    ORDER BY i.indisprimary DESC, ic.relname`;
  const partitioning = await sql<PartitionedLevel[]>`
    SELECT p.partrelid::regclass::text AS table, t.level + 1 AS level,
           CASE p.partstrat WHEN 'r' THEN 'range' WHEN 'l' THEN 'list' ELSE 'hash' END AS strategy,
           ARRAY(SELECT a.attname::text FROM unnest(p.partattrs::int2[]) WITH ORDINALITY AS k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum
                 ORDER BY k.n) AS columns,
           (0 = ANY (p.partattrs::int2[])) AS expression
    FROM pg_partition_tree(${oid}::oid) t
    JOIN pg_partitioned_table p ON p.partrelid = t.relid
    ORDER BY t.level, p.partrelid::regclass::text`;
  return {
    table,
    quoted,
    columns: [...columns],
    uniqueIndexes: uniqueIndexes.map((ix) => ({ ...ix })),
    estimatedRows: rel.reltuples,
    timeZone: rel.timeZone,
    ...(partitioning.length ? { partitioning: partitioning.map((p) => ({ ...p })) } : {}),
  };
}
