import type { DatabaseOptions, LandfallOptions, LogLevel } from './props.ts';

/**
 * Context keys the app reads (`cdk deploy -c landfall:database=existing …`, or `context` in
 * cdk.json). Everything else has a default; see the README's deploy sections.
 */
export const ContextKey = {
  config: 'landfall:config',
  stackName: 'landfall:stackName',
  namePrefix: 'landfall:namePrefix',
  nag: 'landfall:nag',
  database: 'landfall:database',
  dbInstanceType: 'landfall:dbInstanceType',
  dbMultiAz: 'landfall:dbMultiAz',
  dbDeletionProtection: 'landfall:dbDeletionProtection',
  dbBackupRetentionDays: 'landfall:dbBackupRetentionDays',
  dbAllocatedStorageGiB: 'landfall:dbAllocatedStorageGiB',
  dbMaxAllocatedStorageGiB: 'landfall:dbMaxAllocatedStorageGiB',
  /** New database: max_connections in its parameter group; existing: what it accepts for Landfall. */
  dbMaxConnections: 'landfall:dbMaxConnections',
  /** New database: the security group of the host that runs `landfall grant-role` (allowed in on 5432). */
  adminSecurityGroupId: 'landfall:adminSecurityGroupId',
  /** New database: a managed prefix list of admin networks (allowed in on 5432). */
  adminPrefixListId: 'landfall:adminPrefixListId',
  dbHost: 'landfall:dbHost',
  dbPort: 'landfall:dbPort',
  dbName: 'landfall:dbName',
  dbUser: 'landfall:dbUser',
  dbIamResourceId: 'landfall:dbIamResourceId',
  dbSecretArn: 'landfall:dbSecretArn',
  dbProxy: 'landfall:dbProxy',
  vpcId: 'landfall:vpcId',
  availabilityZones: 'landfall:availabilityZones',
  subnetIds: 'landfall:subnetIds',
  routeTableIds: 'landfall:routeTableIds',
  securityGroupId: 'landfall:securityGroupId',
  vpcEndpoints: 'landfall:vpcEndpoints',
  databaseUrlSecret: 'landfall:databaseUrlSecret',
  localstackAccount: 'landfall:localstackAccount',
  highThroughputFifo: 'landfall:highThroughputFifo',
  consumerMaxConcurrency: 'landfall:consumerMaxConcurrency',
  producerMaxConcurrency: 'landfall:producerMaxConcurrency',
  producerMaxInvocationsPerFile: 'landfall:producerMaxInvocationsPerFile',
  reservedConcurrency: 'landfall:reservedConcurrency',
  /** `refuse` (default) or `warn` when the functions could open more connections than the database accepts. */
  connectionBudget: 'landfall:connectionBudget',
  appliedBatchExpirationDays: 'landfall:appliedBatchExpirationDays',
  rejectExpirationDays: 'landfall:rejectExpirationDays',
  logRetentionDays: 'landfall:logRetentionDays',
  logLevel: 'landfall:logLevel',
  alarmEmail: 'landfall:alarmEmail',
} as const;

type Get = (key: string) => unknown;

export class ContextError extends Error {
  override name = 'ContextError';
}

const str = (get: Get, key: string): string | undefined => {
  const value = get(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') throw new ContextError(`context ${key}: expected a string`);
  return String(value);
};
const num = (get: Get, key: string): number | undefined => {
  const value = str(get, key);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ContextError(`context ${key}: "${value}" is not a number`);
  return n;
};
const bool = (get: Get, key: string): boolean | undefined => {
  const value = get(key);
  if (value === undefined || value === '') return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ContextError(`context ${key}: "${String(value)}" must be true or false`);
};
/** A list from "a,b,c" on the command line or a JSON array in cdk.json. */
const list = (get: Get, key: string): string[] | undefined => {
  const value = get(key);
  if (value === undefined || value === '') return undefined;
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter(Boolean);
  throw new ContextError(`context ${key}: expected a comma-separated list`);
};

/** Drops undefined fields, so the stack's defaults apply (exactOptionalPropertyTypes-safe). */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The database options from context; `landfall:database` may also be a whole JSON object. */
export function databaseFromContext(get: Get): DatabaseOptions {
  const raw = get(ContextKey.database);
  if (raw && typeof raw === 'object') return raw as DatabaseOptions;
  const mode = str(get, ContextKey.database) ?? 'new';
  switch (mode) {
    case 'new':
      return defined({
        mode,
        instanceType: str(get, ContextKey.dbInstanceType),
        multiAz: bool(get, ContextKey.dbMultiAz),
        deletionProtection: bool(get, ContextKey.dbDeletionProtection),
        backupRetentionDays: num(get, ContextKey.dbBackupRetentionDays),
        allocatedStorageGiB: num(get, ContextKey.dbAllocatedStorageGiB),
        maxAllocatedStorageGiB: num(get, ContextKey.dbMaxAllocatedStorageGiB),
        maxConnections: num(get, ContextKey.dbMaxConnections),
        adminSecurityGroupId: str(get, ContextKey.adminSecurityGroupId),
        adminPrefixListId: str(get, ContextKey.adminPrefixListId),
      });
    case 'existing':
      return defined({
        mode,
        host: str(get, ContextKey.dbHost) ?? '',
        port: num(get, ContextKey.dbPort),
        databaseName: str(get, ContextKey.dbName) ?? '',
        user: str(get, ContextKey.dbUser) ?? '',
        iamResourceId: str(get, ContextKey.dbIamResourceId),
        secretArn: str(get, ContextKey.dbSecretArn),
        proxy: bool(get, ContextKey.dbProxy),
        vpcId: str(get, ContextKey.vpcId) ?? '',
        availabilityZones: list(get, ContextKey.availabilityZones) ?? [],
        subnetIds: list(get, ContextKey.subnetIds) ?? [],
        routeTableIds: list(get, ContextKey.routeTableIds),
        securityGroupId: str(get, ContextKey.securityGroupId) ?? '',
        vpcEndpoints: bool(get, ContextKey.vpcEndpoints),
        maxConnections: num(get, ContextKey.dbMaxConnections),
      });
    case 'localstack':
      return { mode, databaseUrlSecret: str(get, ContextKey.databaseUrlSecret) ?? '', account: str(get, ContextKey.localstackAccount) ?? '' };
    default:
      throw new ContextError(`context ${ContextKey.database}: "${mode}" must be new, existing or localstack`);
  }
}

/** Stack options from context, except the table config (the app loads that file). */
export function optionsFromContext(get: Get): Omit<LandfallOptions, 'config'> {
  return defined({
    namePrefix: str(get, ContextKey.namePrefix),
    database: databaseFromContext(get),
    highThroughputFifo: bool(get, ContextKey.highThroughputFifo),
    consumerMaxConcurrency: num(get, ContextKey.consumerMaxConcurrency),
    producerMaxConcurrency: num(get, ContextKey.producerMaxConcurrency),
    producerMaxInvocationsPerFile: num(get, ContextKey.producerMaxInvocationsPerFile),
    reservedConcurrency: bool(get, ContextKey.reservedConcurrency),
    connectionBudget: str(get, ContextKey.connectionBudget) as LandfallOptions['connectionBudget'],
    appliedBatchExpirationDays: num(get, ContextKey.appliedBatchExpirationDays),
    rejectExpirationDays: num(get, ContextKey.rejectExpirationDays),
    logRetentionDays: num(get, ContextKey.logRetentionDays),
    logLevel: str(get, ContextKey.logLevel) as LogLevel | undefined,
    alarmEmail: str(get, ContextKey.alarmEmail),
  });
}
