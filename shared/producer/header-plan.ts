import { keyTypesOf } from '../core/catalog-snapshot.ts';
import type { TableConfig } from '../core/config.ts';
import type { KeyColumnType } from '../core/canonical-key.ts';
import type { CatalogSource } from './catalog-source.ts';
import { planColumns, planObjectKeys, type ColumnPlan } from '../core/column-plan.ts';
import { UnreadableFileError, UnreadableReason } from '../core/read/errors.ts';
import type { TextFormat } from '../core/read/read-csv.ts';
import { likelyDelimiterOf } from '../core/read/sniff.ts';

const DELIMITER_NAMES: Record<string, string> = { ',': 'a comma', ';': 'a semicolon', '\t': 'a tab', '|': 'a pipe' };
const shown = (d: string) => JSON.stringify(d);

/**
 * A header that does not fit because the file is read the wrong way: a header that is one
 * column holding another common delimiter (read with the wrong delimiter), or names with NUL
 * characters (UTF-16 read as UTF-8). The refusal names the `format` option to set, never an
 * ALTER TABLE for a column named "id;name;amount".
 */
function misreadHeader(table: TableConfig, names: readonly string[], text: TextFormat): UnreadableFileError | null {
  if (names.some((n) => n.includes('\u0000'))) {
    // UTF-16LE puts the NUL after each ASCII letter ("i\0d\0"), UTF-16BE before it.
    const encoding = names.join(text.delimiter).startsWith('\u0000') ? 'utf-16be' : 'utf-16le';
    return new UnreadableFileError(
      UnreadableReason.wrongEncoding,
      `the header holds NUL characters: the file looks like ${encoding.toUpperCase()} without a byte order mark, read as ${text.encoding.toUpperCase()}. ` +
        `Set the table's "format": { "encoding": "${encoding}" } (table "${table.table}"), then drop the file again`,
      { line: 1 },
    );
  }
  const other = likelyDelimiterOf(names.length === 1 ? names : [], text.delimiter);
  if (!other) return null;
  return new UnreadableFileError(
    UnreadableReason.wrongDelimiter,
    `the header, split on ${shown(text.delimiter)}, is one column ${shown(names[0]!)}, which holds ${DELIMITER_NAMES[other]} (${shown(other)}): the file is probably delimited by ${shown(other)}. ` +
      `Set the table's "format": { "delimiter": ${shown(other)} } (or "auto") for table "${table.table}", then drop the file again`,
    { line: 1, field: names[0]! },
  );
}

export interface HeaderPlan {
  plan: ColumnPlan;
  /** One per key column, or null: no snapshot, so the whole file goes to one partition. */
  keyTypes: KeyColumnType[] | null;
  timeZone: string;
}

/**
 * Maps the header against the table's catalog snapshot. A header that does not fit the kept
 * snapshot is checked once more against a fresh one (an ALTER TABLE may have added the column).
 */
export async function planHeader(catalog: CatalogSource | undefined, table: TableConfig, names: readonly string[], text: TextFormat | null = null): Promise<HeaderPlan> {
  // A NUL in a name can be no column at all: the file is read in the wrong encoding.
  if (names.some((n) => n.includes('\u0000'))) {
    throw (text && misreadHeader(table, names, text)) ?? new UnreadableFileError(UnreadableReason.badHeader, 'the header holds NUL characters', { line: 1 });
  }
  try {
    return await planKnownHeader(catalog, table, names);
  } catch (error) {
    const misread = text && error instanceof UnreadableFileError ? misreadHeader(table, names, text) : null;
    throw misread ?? error;
  }
}

async function planKnownHeader(catalog: CatalogSource | undefined, table: TableConfig, names: readonly string[]): Promise<HeaderPlan> {
  const evolve = table.schema === 'evolve';
  const plan = (snapshot: Awaited<ReturnType<CatalogSource['get']>>) =>
    planColumns(table, names, { ...(snapshot ? { knownColumns: new Set(snapshot.columns.map((c) => c.name)) } : {}), evolve });
  let snapshot = (await catalog?.get(table.table)) ?? null;
  let columns: ColumnPlan;
  try {
    columns = plan(snapshot);
  } catch (error) {
    if (!(error instanceof UnreadableFileError) || error.code !== UnreadableReason.unknownColumn || !catalog) throw error;
    snapshot = await catalog.refresh(table.table);
    try {
      columns = plan(snapshot);
    } catch (again) {
      if (!(again instanceof UnreadableFileError) || again.code !== UnreadableReason.unknownColumn || !snapshot) throw again;
      throw new UnreadableFileError(again.code, `${again.message} (table columns as read from the catalog at ${snapshot.readAt})`, { field: again.field! });
    }
  }
  return { plan: columns, keyTypes: snapshot ? keyTypesOf(snapshot, table) : null, timeZone: snapshot?.timeZone ?? 'UTC' };
}

/**
 * Plans the keys JSON objects brought since `previous` (null: the file's first object). A key the
 * kept snapshot does not know is checked once more against a fresh one (an ALTER TABLE, or an
 * evolve that added it, since); a key that still does not fit refuses only the objects that carry it.
 */
export async function planObjectHeader(catalog: CatalogSource | undefined, table: TableConfig, previous: HeaderPlan | null, keys: readonly string[]): Promise<HeaderPlan> {
  const evolve = table.schema === 'evolve';
  const plan = (snapshot: Awaited<ReturnType<CatalogSource['get']>>) =>
    planObjectKeys(table, previous?.plan ?? null, keys, { ...(snapshot ? { knownColumns: new Set(snapshot.columns.map((c) => c.name)) } : {}), evolve });
  let snapshot = (await catalog?.get(table.table)) ?? null;
  let columns = plan(snapshot);
  const from = previous?.plan.columns.length ?? 0;
  if (snapshot && catalog && columns.refused!.slice(from).some((r) => r !== null)) {
    snapshot = await catalog.refresh(table.table);
    columns = plan(snapshot);
  }
  const keyTypes = previous?.keyTypes ?? (snapshot ? keyTypesOf(snapshot, table) : null);
  return { plan: columns, keyTypes, timeZone: previous?.timeZone ?? snapshot?.timeZone ?? 'UTC' };
}
