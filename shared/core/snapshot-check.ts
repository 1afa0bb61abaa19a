import type { CatalogColumn, TableCatalog } from './catalog-types.ts';
import type { TableConfig } from './config.ts';
import { addArrivalColumnStatement } from './conflict-key.ts';
import { quoteIdent } from './identifiers.ts';
import { snapshotRuleOf } from './snapshot-config.ts';

/** A snapshot table that cannot be used as configured: what is wrong and the statement that fixes it. */
export interface SnapshotTableProblem {
  reason: string;
  fix: string;
}

/** Types a soft-delete column may have: it is set to the snapshot file's time. */
const SOFT_DELETE_TYPES = new Set(['timestamptz', 'timestamp', 'date']);

/**
 * What a snapshot table needs of its catalog, checked at start-up (doctor, `run`, `dev`) and by
 * the consumer: the arrival column (a snapshot removes a row only when it is newer than the
 * row's last write, and only the arrival column says when that was), the scope columns, and a
 * soft-delete column that is a nullable time. Empty for any other table.
 */
export function snapshotTableProblems(config: TableConfig, catalog: TableCatalog): SnapshotTableProblem[] {
  const rule = snapshotRuleOf(config);
  if (!rule) return [];
  const byName = new Map<string, CatalogColumn>(catalog.columns.map((c) => [c.name, c]));
  const problems: SnapshotTableProblem[] = [];
  const arrival = byName.get(config.arrivalColumn);
  if (!arrival) {
    problems.push({
      reason: `"mode": "snapshot" needs the arrival column "${config.arrivalColumn}": a snapshot removes a row only when it is newer than the row's last write, which that column records`,
      fix: addArrivalColumnStatement(catalog, config.arrivalColumn),
    });
  } else if (arrival.baseType !== 'text') {
    problems.push({
      reason: `the arrival column "${arrival.name}" is ${arrival.type}; "mode": "snapshot" compares arrivals as text (COLLATE "C")`,
      fix: `ALTER TABLE ${catalog.quoted} ALTER COLUMN ${quoteIdent(arrival.name)} TYPE text COLLATE "C";`,
    });
  }
  const missingScope = rule.scope.filter((s) => !byName.has(s));
  if (missingScope.length) {
    problems.push({
      reason: `scope column(s) ${missingScope.map((s) => `"${s}"`).join(', ')} do not exist in ${catalog.table.schema}.${catalog.table.name}`,
      fix: '-- fix "scope" in the config: the columns that name one scope of the table',
    });
  }
  if (rule.softDelete !== null) {
    const column = byName.get(rule.softDelete);
    if (!column) {
      problems.push({
        reason: `the soft-delete column "${rule.softDelete}" (missing.softDelete) does not exist`,
        fix: `ALTER TABLE ${catalog.quoted} ADD COLUMN ${quoteIdent(rule.softDelete)} timestamptz;`,
      });
    } else if (!SOFT_DELETE_TYPES.has(column.baseType)) {
      problems.push({
        reason: `the soft-delete column "${column.name}" is ${column.type}; it is set to the snapshot file's time, so it must be timestamptz, timestamp or date`,
        fix: `ALTER TABLE ${catalog.quoted} ALTER COLUMN ${quoteIdent(column.name)} TYPE timestamptz USING NULL;`,
      });
    } else if (column.notNull || column.generated) {
      problems.push({
        reason: `the soft-delete column "${column.name}" is ${column.generated ? 'generated' : 'NOT NULL'}; a row a later file holds again gets NULL there`,
        fix: `ALTER TABLE ${catalog.quoted} ALTER COLUMN ${quoteIdent(column.name)} DROP NOT NULL;`,
      });
    }
  }
  return problems;
}
