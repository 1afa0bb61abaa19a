import type { Command } from 'commander';
import { type AppRoleReport, DEFAULT_APP_ROLE, grantAppRole } from '../../shared/postgres/ledger/app-role.ts';
import { CliError, loadOptionalConfig, resolveContext, type CliIo, type GlobalOptions, type RegisterCommand, examples } from '../context.ts';
import { openDatabaseWithFallback } from '../local.ts';

export interface GrantRoleOptions extends GlobalOptions {
  role?: string;
  /** Commander's `--no-iam`: true unless given. */
  iam?: boolean;
  json?: boolean;
}

function formatReport(report: AppRoleReport): string {
  const lines = [
    `role ${report.role}: ${report.created ? 'created' : 'already there'}, LOGIN only, owns the ledger schema "landfall"`,
    `IAM login (rds_iam): ${{ granted: 'granted', 'not-on-rds': 'no rds_iam role here (not RDS): log in with a password you set', 'not-asked': 'not asked (--no-iam)' }[report.iam]}`,
    ...report.tables.map((t) => `${t}: SELECT, INSERT, UPDATE, DELETE`),
    ...report.missingTables.map((t) => `${t}: does not exist yet; create it, then run this again`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * `landfall grant-role`: run once as the database admin (the RDS master user) after deploying,
 * and again after adding a table. Exit 0 done, 1 some configured tables do not exist yet,
 * 2 could not grant.
 */
export async function grantRoleCommand(options: GrantRoleOptions, io: CliIo): Promise<number> {
  const context = resolveContext(options, io.env);
  const config = loadOptionalConfig(context);
  if (!config) throw new CliError('grant-role needs the table config: pass --config (or set LANDFALL_CONFIG)', 2);
  if (!context.databaseUrl) throw new CliError("grant-role needs the admin's --database-url (or DATABASE_URL)", 2);
  const db = await openDatabaseWithFallback(context, io.env);
  let report: AppRoleReport;
  try {
    report = await grantAppRole(db.sql, { role: options.role ?? DEFAULT_APP_ROLE, tables: config.tables.map((t) => t.table), iam: options.iam !== false });
  } catch (error) {
    io.stderr.write(`landfall grant-role: ${(error as Error).message}\n`);
    return 2;
  } finally {
    await db.close();
  }
  io.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.missingTables.length > 0 ? 1 : 0;
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('grant-role')
    .description("create the least-privilege role the functions log in as (run as the database admin; exit 0 done, 1 tables missing, 2 failed)")
    .option('--role <name>', 'the role the functions log in as', DEFAULT_APP_ROLE)
    .option('--no-iam', 'do not grant rds_iam (the role then needs a password you set)')
    .option('--json', 'machine-readable report')
    .addHelpText('after', examples(['landfall grant-role --config landfall.json --database-url postgres://admin@db.internal/app', 'landfall grant-role --config landfall.json --role landfall_app --no-iam --json']))
    .action(async (_options: unknown, command: Command) => {
      setExitCode(await grantRoleCommand(command.optsWithGlobals<GrantRoleOptions>(), io));
    });
};
