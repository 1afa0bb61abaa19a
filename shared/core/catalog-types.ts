import type { QualifiedName } from './identifiers.ts';

/** What Landfall reads of a table from the system catalog (postgres/catalog.ts loads it). */
export interface CatalogColumn {
  name: string;
  /** `format_type` of the column: the cast target, e.g. `numeric(12,2)`, `timestamp with time zone`. */
  type: string;
  /**
   * The type to cast incoming text to: the column type WITHOUT its modifier. An explicit cast to
   * `varchar(5)` silently truncates; assignment to the column then raises 22001 instead.
   */
  castType: string;
  /** Base type name after resolving domains (`jsonb`, `_int4` for int[]...). */
  baseType: string;
  /** For a domain: its base type with the modifier it gives (`numeric(10,2)`); null otherwise. */
  baseFormat?: string | null;
  notNull: boolean;
  /** Has a default, an identity or is generated. */
  hasDefault: boolean;
  /** A generated column cannot be written. */
  generated: boolean;
  /**
   * The column's default as SQL (`pg_get_expr` of the default, an identity's `nextval`, or its
   * domain's default), null when it has none: what an insert that does not carry the column writes.
   */
  defaultExpr?: string | null;
  /** A CHECK constraint of the table reads the column. */
  checked?: boolean;
  /** `pg_type.typcategory` of the base type (`N` numeric, `S` string, `E` enum...). */
  category?: string;
  /** The column's collation when it is not the database default (collatable types only). */
  collation?: ColumnCollation | null;
}

export interface ColumnCollation {
  schema: string;
  name: string;
  /** Only ICU collations can be nondeterministic (case- or accent-insensitive equality). */
  deterministic: boolean;
  /** The ICU locale (`und-u-ks-level2`) or the libc one. */
  locale: string | null;
}

export interface UniqueIndex {
  name: string;
  /** Key columns in index order; empty entries for expressions are left out. */
  columns: string[];
  primary: boolean;
  /** Backs a PRIMARY KEY or UNIQUE constraint (`conname`), else a plain unique index. */
  constraint: string | null;
  partial: boolean;
  expression: boolean;
  nullsNotDistinct: boolean;
  valid: boolean;
  deferrable: boolean;
  definition: string;
}

/** One partitioned table of a partition tree (the target itself, or a partition partitioned again). */
export interface PartitionedLevel {
  /** `schema.name` of the partitioned table. */
  table: string;
  /** 1 for the target, 2 for its partitions' own partitioning, and so on. */
  level: number;
  strategy: 'range' | 'list' | 'hash';
  /** The partition key's columns (an expression in the key is not listed; see `expression`). */
  columns: string[];
  /** The partition key has an expression: no unique index can be built on the table. */
  expression: boolean;
}

export interface TableCatalog {
  table: QualifiedName;
  /** The quoted, schema-qualified name to put in SQL. */
  quoted: string;
  columns: CatalogColumn[];
  uniqueIndexes: UniqueIndex[];
  /** Estimated live rows (pg_class.reltuples), -1 when never analyzed. */
  estimatedRows: number;
  /** The session's TimeZone: how a `timestamptz` written without an offset is read. */
  timeZone?: string;
  /**
   * Every partitioned table of the target's partition tree, the target first; absent or empty
   * for a plain table. A unique index on the target must include every listed column.
   */
  partitioning?: PartitionedLevel[];
}
