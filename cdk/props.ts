import type { Environment } from 'aws-cdk-lib';
import type { LandfallConfig } from '../shared/core/config.ts';
import { FunctionSettings, InboxLayout, StagingExpiration } from '../shared/core/resources.ts';
import { DEFAULT_PRODUCER_LIMITS } from '../shared/producer/producer-contract.ts';
import { type ConnectionBudget, connectionBudget } from './connection-budget.ts';

/** The instance class of a new database unless `instanceType` says otherwise. */
export const DEFAULT_INSTANCE_TYPE = 't4g.micro';
/** RDS Proxy may use this share of the database's max_connections (the connection budget counts on it). */
export const PROXY_MAX_CONNECTIONS_PERCENT = 90;
/** Producer invocations one file may take unless `producerMaxInvocationsPerFile` says otherwise. */
export const DEFAULT_MAX_INVOCATIONS_PER_FILE = DEFAULT_PRODUCER_LIMITS.maxInvocationsPerFile;

/** A new VPC, RDS for PostgreSQL 17 and an RDS Proxy, created by the stack (the default). */
export interface NewDatabaseOptions {
  readonly mode: 'new';
  /** Default `t4g.micro`. */
  readonly instanceType?: string;
  /**
   * A standby in a second AZ (doubles the instance cost). Say it explicitly: for production
   * `true`; left out, the stack is single-AZ and synth warns (`-c landfall:dbMultiAz=…`).
   */
  readonly multiAz?: boolean;
  /** Default true. Turn it off (and deploy) before `cdk destroy`. */
  readonly deletionProtection?: boolean;
  /** Automated backups, 1–35 days. Default 7. */
  readonly backupRetentionDays?: number;
  /** Initial storage in GiB (gp3, grows automatically up to `maxAllocatedStorageGiB`). Default 20. */
  readonly allocatedStorageGiB?: number;
  /**
   * Where storage autoscaling stops, in GiB: at least 10% above `allocatedStorageGiB` (RDS's
   * rule). Default 5× the allocated storage. Billed only as storage grows.
   */
  readonly maxAllocatedStorageGiB?: number;
  /**
   * `max_connections` in the stack's parameter group. Default: RDS's own default for the
   * instance class (about memory / 9.1 MiB), which the connection budget estimates.
   */
  readonly maxConnections?: number;
  /**
   * A security group of the host that runs `landfall grant-role` (a bastion, a CloudShell VPC
   * environment): the database's security group lets it in on 5432. Default: no such rule.
   */
  readonly adminSecurityGroupId?: string;
  /** The same from a managed prefix list (`pl-…`) of admin networks. */
  readonly adminPrefixListId?: string;
}

/**
 * A database (and usually an RDS Proxy) the user already runs. Nothing of it is created or
 * changed: the functions join the given subnets with the given security group, which must
 * already reach the endpoint.
 */
export interface ExistingDatabaseOptions {
  readonly mode: 'existing';
  /** RDS Proxy endpoint (recommended) or database endpoint. */
  readonly host: string;
  /** Default 5432. */
  readonly port?: number;
  /** Database name. */
  readonly databaseName: string;
  /** Database user the functions log in as. */
  readonly user: string;
  /**
   * IAM auth: the resource id in the `rds-db:connect` ARN, `prx-…` for a proxy (from its ARN)
   * or `db-…` for an instance (its DbiResourceId). Exactly one of this and `secretArn`.
   */
  readonly iamResourceId?: string;
  /** Password auth: a Secrets Manager secret with the credentials (RDS JSON or a URL). */
  readonly secretArn?: string;
  /** False when the host is the RDS instance itself, not RDS Proxy: the functions then load the RDS CA bundle. */
  readonly proxy?: boolean;
  readonly vpcId: string;
  /** The AZs of `subnetIds`, in the same order (no lookup happens at synth). */
  readonly availabilityZones: string[];
  /** Private subnets for the consumer and replay functions. */
  readonly subnetIds: string[];
  /** Security group for the functions; it must already be allowed into the database/proxy. */
  readonly securityGroupId: string;
  /**
   * Create S3 (gateway) and SQS (interface) endpoints in the VPC. Default false: an existing
   * VPC usually reaches them already, and a second SQS endpoint with private DNS would clash.
   */
  readonly vpcEndpoints?: boolean;
  /** Route tables of `subnetIds`, needed for the S3 gateway endpoint when `vpcEndpoints`. */
  readonly routeTableIds?: string[];
  /**
   * Connections the database (or its proxy) accepts for Landfall: the connection budget checks
   * the functions' concurrency against it. Without it synth only warns with the demand.
   */
  readonly maxConnections?: number;
}

/**
 * No VPC, no RDS: for LocalStack (`cdklocal`). The functions read DATABASE_URL, resolved at
 * deploy time from a Secrets Manager secret (its value shows in the function configuration,
 * which is acceptable for a local emulator and nothing else).
 */
export interface LocalStackDatabaseOptions {
  readonly mode: 'localstack';
  /** Name or ARN of a secret whose string is a `postgres://` URL. */
  readonly databaseUrlSecret: string;
  /**
   * The emulator's account id (LocalStack's is `000000000000`). Required: the stack is bound to
   * it, so the CDK CLI refuses to deploy it with credentials of any other account, and this
   * mode's plaintext DATABASE_URL cannot end up in a real account's function configuration.
   */
  readonly account: string;
}

export type DatabaseOptions = NewDatabaseOptions | ExistingDatabaseOptions | LocalStackDatabaseOptions;

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface FunctionEntries {
  readonly producer: string;
  readonly consumer: string;
  readonly replay: string;
}

export const DEFAULT_ENTRIES: FunctionEntries = {
  producer: 'functions/producer/index.ts',
  consumer: 'functions/consumer/index.ts',
  replay: 'functions/replay/index.ts',
};

/** Everything that shapes a Landfall deployment, apart from the CDK `StackProps`. */
export interface LandfallOptions {
  /** The validated table config (`loadConfigFile`): prefixes, partitions, and the functions' copy. */
  readonly config: LandfallConfig;
  /** Handler entry files, relative to the project root or absolute. */
  readonly entries?: Partial<FunctionEntries>;
  /** Queue and function names start with it: `<prefix>-batches.fifo`. Default `landfall`. */
  readonly namePrefix?: string;
  /** Default `{ mode: 'new' }`. */
  readonly database?: DatabaseOptions;
  /**
   * High-throughput FIFO for the batches queue (dedup scope and throughput limit per message
   * group). Default false. Worth it beyond ~300 batch messages per second.
   */
  readonly highThroughputFifo?: boolean;
  /**
   * Upper bound of concurrent consumer invocations (2–1000). Default: the total of the tables'
   * partitions (FIFO never runs more than one invocation per message group), at least 2.
   */
  readonly consumerMaxConcurrency?: number;
  /** Default 10. */
  readonly producerMaxConcurrency?: number;
  /**
   * Producer invocations one file may take at most; a file still not read after them is moved
   * aside (`too-many-invocations`), so a runaway chain of continuations stops. Default 1000
   * (5 TB, S3's largest object, at 5 GB or more per invocation).
   */
  readonly producerMaxInvocationsPerFile?: number;
  /**
   * Reserve Lambda concurrency for the consumer (its event source's maximum concurrency, plus
   * one for the deploy step) and replay (its maximum), as the Lambda guide recommends for SQS
   * event sources with a maximum concurrency. Default false (the account's unreserved pool).
   */
  readonly reservedConcurrency?: boolean;
  /**
   * What synth does when the functions could open more database connections than the database
   * accepts through the proxy: `refuse` (default) or `warn`.
   */
  readonly connectionBudget?: 'refuse' | 'warn';
  /** Days before applied batch objects expire. Default 7. */
  readonly appliedBatchExpirationDays?: number;
  /** Days before rejected rows and files expire; must exceed the batch days. Default 90. */
  readonly rejectExpirationDays?: number;
  /** Default 30. */
  readonly logRetentionDays?: number;
  /** Default INFO. */
  readonly logLevel?: LogLevel;
  /** CloudWatch namespace of the pipeline metrics. Default `Landfall`. */
  readonly metricsNamespace?: string;
  /** Alarm when the oldest batch message is older than this. Default 900 s. */
  readonly oldestBatchAlarmSeconds?: number;
  /** Subscribe this address to the alarm topic. */
  readonly alarmEmail?: string;
}

export class LandfallPropsError extends Error {
  override name = 'LandfallPropsError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid Landfall stack props:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);
const blank = (s: unknown) => typeof s !== 'string' || s.trim() === '';
/** EC2 ids as CloudFormation checks them: a prefix and 8 or 17 hex digits. */
const ec2Id = (prefix: string, value: unknown) => typeof value === 'string' && new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(value);

/** Sum of the tables' partitions, clamped to what an SQS event source accepts. */
export function defaultConsumerMaxConcurrency(config: LandfallConfig): number {
  const groups = config.tables.reduce((sum, t) => sum + t.partitions, 0);
  return Math.min(1000, Math.max(2, groups));
}

/**
 * Checks the options before any construct exists, so a mistake names the field instead of
 * surfacing as a CloudFormation error mid-deploy. Throws `LandfallPropsError` with every problem.
 */
export function validateOptions(options: LandfallOptions): void {
  const problems: string[] = [];
  const { config } = options;
  if (!config || !Array.isArray(config.tables) || config.tables.length === 0) {
    problems.push('config: needs at least one table (load it with loadConfigFile)');
  }
  for (const table of config?.tables ?? []) {
    const rejects = InboxLayout.rejectsPrefix;
    if (table.prefix.startsWith(rejects) || rejects.startsWith(table.prefix)) {
      problems.push(
        `config: table "${table.table}": prefix "${table.prefix}" overlaps "${rejects}", where the producer moves rejected files; their copies would be notified again`,
      );
    }
  }
  const prefix = options.namePrefix;
  if (prefix !== undefined && !/^[A-Za-z0-9_-]{1,40}$/.test(prefix)) {
    problems.push(`namePrefix: "${prefix}" must be 1–40 letters, digits, "-" or "_" (it starts queue and function names)`);
  }
  const check = (name: string, value: number | undefined, min: number, max: number) => {
    if (value !== undefined && (!isInt(value) || value < min || value > max)) {
      problems.push(`${name}: ${String(value)} must be an integer from ${min} to ${max}`);
    }
  };
  check('consumerMaxConcurrency', options.consumerMaxConcurrency, 2, 1000);
  check('producerMaxConcurrency', options.producerMaxConcurrency, 2, 1000);
  check('appliedBatchExpirationDays', options.appliedBatchExpirationDays, 1, 3650);
  check('rejectExpirationDays', options.rejectExpirationDays, 1, 3650);
  check('oldestBatchAlarmSeconds', options.oldestBatchAlarmSeconds, 60, 14 * 24 * 3600);
  check('producerMaxInvocationsPerFile', options.producerMaxInvocationsPerFile, 2, 100_000);
  if (options.connectionBudget !== undefined && !['refuse', 'warn'].includes(options.connectionBudget)) {
    problems.push(`connectionBudget: "${String(options.connectionBudget)}" must be "refuse" or "warn"`);
  }
  const applied = options.appliedBatchExpirationDays ?? StagingExpiration.appliedBatchDays;
  const rejects = options.rejectExpirationDays ?? StagingExpiration.rejectDays;
  if (rejects <= applied) {
    problems.push(`rejectExpirationDays: ${rejects} must be greater than appliedBatchExpirationDays (${applied}); rejects are kept longer`);
  }
  if (options.logRetentionDays !== undefined && !RETENTION_DAYS.includes(options.logRetentionDays)) {
    problems.push(`logRetentionDays: ${options.logRetentionDays} is not a CloudWatch Logs retention (one of ${RETENTION_DAYS.join(', ')})`);
  }
  if (options.logLevel !== undefined && !['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(options.logLevel)) {
    problems.push(`logLevel: "${String(options.logLevel)}" must be DEBUG, INFO, WARN or ERROR`);
  }
  if (options.metricsNamespace !== undefined && !/^[A-Za-z0-9._/#:-]{1,255}$/.test(options.metricsNamespace)) {
    problems.push(`metricsNamespace: "${options.metricsNamespace}" is not a valid CloudWatch namespace`);
  }
  if (options.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(options.alarmEmail)) {
    problems.push(`alarmEmail: "${options.alarmEmail}" is not an e-mail address`);
  }
  for (const [key, entry] of Object.entries(options.entries ?? {})) {
    if (blank(entry)) problems.push(`entries.${key}: must be a file path`);
  }
  problems.push(...validateDatabase(options.database ?? { mode: 'new' }));
  // Only options that are valid otherwise have a budget worth computing.
  if (problems.length === 0 && (options.connectionBudget ?? 'refuse') === 'refuse') {
    const budget = deploymentBudget(options);
    if (budget?.verdict === 'exceeds') problems.push(budget.message);
  }
  if (problems.length) throw new LandfallPropsError(problems);
}

function validateDatabase(db: DatabaseOptions): string[] {
  const problems: string[] = [];
  switch (db.mode) {
    case 'new': {
      if (db.backupRetentionDays !== undefined && (!isInt(db.backupRetentionDays) || db.backupRetentionDays < 1 || db.backupRetentionDays > 35)) {
        problems.push(`database.backupRetentionDays: ${db.backupRetentionDays} must be 1–35 (automated backups stay on)`);
      }
      if (db.allocatedStorageGiB !== undefined && (!isInt(db.allocatedStorageGiB) || db.allocatedStorageGiB < 20 || db.allocatedStorageGiB > 65536)) {
        problems.push(`database.allocatedStorageGiB: ${db.allocatedStorageGiB} must be 20–65536`);
      }
      if (db.instanceType !== undefined && !/^[a-z0-9]+\.[a-z0-9]+$/.test(db.instanceType)) {
        problems.push(`database.instanceType: "${db.instanceType}" should look like "t4g.micro" (without the "db." prefix)`);
      }
      if (db.maxAllocatedStorageGiB !== undefined) {
        const allocated = db.allocatedStorageGiB ?? 20;
        const least = Math.ceil((allocated * 11) / 10);
        if (!isInt(db.maxAllocatedStorageGiB) || db.maxAllocatedStorageGiB < least || db.maxAllocatedStorageGiB > 65536) {
          problems.push(`database.maxAllocatedStorageGiB: ${db.maxAllocatedStorageGiB} must be an integer from ${least} (RDS wants 10% above allocatedStorageGiB, ${allocated}) to 65536`);
        }
      }
      if (db.maxConnections !== undefined && (!isInt(db.maxConnections) || db.maxConnections < 10 || db.maxConnections > 262143)) {
        problems.push(`database.maxConnections: ${db.maxConnections} must be an integer from 10 to 262143 (PostgreSQL's limit)`);
      }
      if (db.adminSecurityGroupId !== undefined && !ec2Id('sg', db.adminSecurityGroupId)) {
        problems.push(`database.adminSecurityGroupId: "${String(db.adminSecurityGroupId)}" is not a security group id (sg-…)`);
      }
      if (db.adminPrefixListId !== undefined && !ec2Id('pl', db.adminPrefixListId)) {
        problems.push(`database.adminPrefixListId: "${String(db.adminPrefixListId)}" is not a managed prefix list id (pl-…)`);
      }
      break;
    }
    case 'existing': {
      const where = 'database (existing)';
      if (blank(db.host)) problems.push(`${where}.host: the proxy or database endpoint is required`);
      if (blank(db.databaseName)) problems.push(`${where}.databaseName: is required`);
      if (blank(db.user)) problems.push(`${where}.user: is required`);
      if (db.port !== undefined && (!isInt(db.port) || db.port < 1 || db.port > 65535)) problems.push(`${where}.port: ${db.port} is not a port`);
      const hasIam = !blank(db.iamResourceId);
      const hasSecret = !blank(db.secretArn);
      if (hasIam === hasSecret) {
        problems.push(`${where}: give exactly one of iamResourceId (IAM auth, "prx-…" or "db-…") and secretArn (password in Secrets Manager)`);
      }
      if (hasIam && !/^(prx|db|cluster)-[A-Za-z0-9]+$/.test(db.iamResourceId ?? '')) {
        problems.push(`${where}.iamResourceId: "${db.iamResourceId}" should be a proxy id "prx-…" or a DbiResourceId "db-…"`);
      }
      if (hasSecret && !/^arn:aws[a-z-]*:secretsmanager:/.test(db.secretArn ?? '')) {
        problems.push(`${where}.secretArn: "${db.secretArn}" is not a Secrets Manager secret ARN`);
      }
      if (!ec2Id('vpc', db.vpcId)) problems.push(`${where}.vpcId: "${String(db.vpcId)}" is not a VPC id (vpc-…)`);
      if (!ec2Id('sg', db.securityGroupId)) {
        problems.push(`${where}.securityGroupId: "${String(db.securityGroupId)}" is not a security group id (sg-…)`);
      }
      const subnets = db.subnetIds ?? [];
      const azs = db.availabilityZones ?? [];
      if (subnets.length === 0 || subnets.some((s) => !ec2Id('subnet', s))) {
        problems.push(`${where}.subnetIds: needs at least one subnet id (subnet-…)`);
      }
      if (azs.length === 0 || subnets.length % azs.length !== 0) {
        problems.push(`${where}.availabilityZones: one AZ per subnet (${subnets.length} subnets, ${azs.length} AZs)`);
      }
      if (db.vpcEndpoints && (db.routeTableIds ?? []).length !== subnets.length) {
        problems.push(`${where}.routeTableIds: vpcEndpoints needs the route table of each subnet for the S3 gateway endpoint`);
      }
      if ((db.routeTableIds ?? []).some((r) => !ec2Id('rtb', r))) problems.push(`${where}.routeTableIds: expected route table ids (rtb-…)`);
      if (db.maxConnections !== undefined && (!isInt(db.maxConnections) || db.maxConnections < 1)) {
        problems.push(`${where}.maxConnections: ${db.maxConnections} must be a whole number of connections`);
      }
      break;
    }
    case 'localstack': {
      if (blank(db.databaseUrlSecret)) problems.push('database (localstack).databaseUrlSecret: name or ARN of the DATABASE_URL secret is required');
      if (!/^\d{12}$/.test(db.account ?? '')) {
        problems.push(
          'database (localstack).account: the emulator\'s 12-digit account id is required (LocalStack: 000000000000; -c landfall:localstackAccount=…). ' +
            'This mode puts the database URL in plain text into the function configuration, so the stack is bound to that account and cannot be deployed to a real one.',
        );
      }
      break;
    }
    default:
      problems.push(`database.mode: "${String((db as { mode?: unknown }).mode)}" must be "new", "existing" or "localstack"`);
  }
  return problems;
}

/**
 * The stack's environment: as given (environment-agnostic by default), except in LocalStack
 * mode, which is bound to the emulator's account.
 */
export function stackEnvironment(options: LandfallOptions, given: Environment | undefined): Environment | undefined {
  const db = options.database;
  return db?.mode === 'localstack' ? { ...given, account: db.account } : given;
}

/**
 * The budget of a deployment's options: the stack's own database (its class, or the
 * `max_connections` it sets, through its proxy), or what an existing database grants Landfall.
 * Undefined in LocalStack mode.
 */
export function deploymentBudget(options: LandfallOptions): ConnectionBudget | undefined {
  const db = options.database ?? { mode: 'new' as const };
  const consumerConcurrency = options.consumerMaxConcurrency ?? defaultConsumerMaxConcurrency(options.config);
  const replayConcurrency = FunctionSettings.replay.maxConcurrency;
  switch (db.mode) {
    case 'new':
      return connectionBudget({ consumerConcurrency, replayConcurrency, maxConnections: db.maxConnections, instanceType: db.instanceType ?? DEFAULT_INSTANCE_TYPE, proxyPercent: PROXY_MAX_CONNECTIONS_PERCENT });
    case 'existing':
      return connectionBudget({ consumerConcurrency, replayConcurrency, granted: db.maxConnections });
    default:
      return undefined;
  }
}
