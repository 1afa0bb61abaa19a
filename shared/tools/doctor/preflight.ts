import { loadCatalog, TableNotFoundError } from '../../postgres/catalog.ts';
import { type TableCatalog } from '../../core/catalog-types.ts';
import { didYouMean, type LandfallConfig, type TableConfig } from '../../core/config.ts';
import { mergeCatalogProblems } from '../../core/merge-rules.ts';
import type { Sql } from '../../postgres/db.ts';
import { parseTableName, quoteIdent } from '../../core/identifiers.ts';
import { diagnoseTable, uncheckedReport, type CheckResult, type TableReport } from './diagnose.ts';
import { targetsFromConfig } from './inspect-table.ts';

/** The privileges the consumer needs on a table of this config. */
function neededPrivileges(table: TableConfig): string[] {
  const removes = table.mode === 'snapshot' && !table.missing?.softDelete;
  return ['SELECT', 'INSERT', ...(table.mode !== 'insert' ? ['UPDATE'] : []), ...(table.delete || removes ? ['DELETE'] : [])];
}

async function privilegeCheck(sql: Sql, catalog: TableCatalog, table: TableConfig): Promise<CheckResult> {
  const needed = neededPrivileges(table);
  const [row] = await sql<{ user: string; missing: string[] }[]>`
    SELECT current_user AS user,
           array(SELECT p FROM unnest(${needed}::text[]) AS p WHERE NOT has_table_privilege(to_regclass(${catalog.quoted}), p)) AS missing`;
  if (!row || row.missing.length === 0) return { check: 'privileges', severity: 'ok', message: needed.join(', '), fix: [] };
  return {
    check: 'privileges',
    severity: 'error',
    message: `${quoteIdent(row.user)} lacks ${row.missing.join(', ')} on the table`,
    fix: [`GRANT ${row.missing.join(', ')} ON ${catalog.quoted} TO ${quoteIdent(row.user)};`],
  };
}

function mappingCheck(catalog: TableCatalog, table: TableConfig): CheckResult | null {
  const mapped = Object.entries(table.columns ?? {});
  if (mapped.length === 0) return null;
  const missing = mapped.filter(([, column]) => !catalog.columns.some((c) => c.name === column));
  if (missing.length === 0) return { check: 'columns', severity: 'ok', message: `${mapped.length} mapped column(s) exist`, fix: [] };
  return {
    check: 'columns',
    severity: 'error',
    message: `"columns" maps ${missing.map(([from, to]) => `"${from}" to "${to}"`).join(', ')}, not in the table`,
    fix: ['-- fix the mapping in the config, or add the column(s) to the table'],
  };
}

function mergeCheck(catalog: TableCatalog, table: TableConfig): CheckResult | null {
  if (!table.merge) return null;
  const problems = mergeCatalogProblems(table, catalog.columns, didYouMean);
  if (problems.length === 0) return { check: 'merge', severity: 'ok', message: `${Object.keys(table.merge).length} merge rule(s) fit their columns`, fix: [] };
  return { check: 'merge', severity: 'error', message: problems.join('; '), fix: ['-- change the "merge" rules in the config (docs/rules.md, "Merge rules"), or the column'] };
}

/**
 * What `landfall run` and `landfall dev` check before dropping anything: every configured table
 * exists, its unique index matches the key, its version and mapped columns exist, and this user
 * may write it. Doctor's own checks without the duplicate count (a matching unique index rules
 * duplicates out), so it takes milliseconds whatever the table's size.
 */
export async function preflightTables(sql: Sql, config: LandfallConfig): Promise<TableReport[]> {
  const reports: TableReport[] = [];
  for (const [i, target] of targetsFromConfig(config).entries()) {
    const table = config.tables[i]!;
    try {
      let catalog: TableCatalog;
      try {
        catalog = await loadCatalog(sql, parseTableName(target.table));
      } catch (error) {
        if (error instanceof TableNotFoundError) {
          reports.push(diagnoseTable(target, null, null));
          continue;
        }
        throw error;
      }
      const report = diagnoseTable(target, catalog, null);
      const checks = report.checks.filter((c) => c.check !== 'duplicates');
      const mapping = mappingCheck(catalog, table);
      if (mapping) checks.push(mapping);
      const merge = mergeCheck(catalog, table);
      if (merge) checks.push(merge);
      checks.push(await privilegeCheck(sql, catalog, table));
      reports.push({ ...report, checks, status: checks.some((c) => c.severity === 'error' || c.severity === 'warning') ? 'findings' : 'healthy' });
    } catch (error) {
      const e = error as { code?: string; message?: string };
      reports.push(uncheckedReport(target, e.code ? `${e.message} (SQLSTATE ${e.code})` : String(e.message)));
    }
  }
  return reports;
}

/** The reports that stop a run: a table that could not be checked, or one with an error. */
export function blockingReports(reports: readonly TableReport[]): TableReport[] {
  return reports.filter((r) => r.status === 'unchecked' || r.checks.some((c) => c.severity === 'error'));
}
