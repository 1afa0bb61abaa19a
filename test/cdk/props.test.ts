import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { LandfallStack, type LandfallStackProps } from '../../cdk/landfall-stack.ts';
import { ContextKey, optionsFromContext } from '../../cdk/context.ts';
import type { ExistingDatabaseOptions } from '../../cdk/props.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { FIXTURE_HANDLER, tempOutdir, testConfig } from './helpers.ts';

const outdir = tempOutdir();

// Validation happens before any construct exists, so these tests synthesise nothing.
const build = (props: Partial<LandfallStackProps>) => () =>
  new LandfallStack(new App({ context: { 'aws:cdk:bundling-stacks': [] }, outdir }), 'Landfall', {
    config: testConfig,
    entries: { producer: FIXTURE_HANDLER, consumer: FIXTURE_HANDLER, replay: FIXTURE_HANDLER },
    ...props,
  });

const existing: ExistingDatabaseOptions = {
  mode: 'existing',
  host: 'db.example.internal',
  databaseName: 'app',
  user: 'landfall',
  iamResourceId: 'prx-0123456789abcdef0',
  vpcId: 'vpc-0a1b2c3d',
  availabilityZones: ['eu-west-1a'],
  subnetIds: ['subnet-0aaa1111'],
  securityGroupId: 'sg-0ccc3333',
};

describe('invalid props throw with a message that names the field', () => {
  it.each<[string, Partial<LandfallStackProps>, RegExp]>([
    ['consumer concurrency below the SQS minimum', { consumerMaxConcurrency: 1 }, /consumerMaxConcurrency: 1 must be an integer from 2 to 1000/],
    ['consumer concurrency above the SQS maximum', { consumerMaxConcurrency: 5000 }, /consumerMaxConcurrency: 5000/],
    ['rejects kept shorter than batches', { appliedBatchExpirationDays: 30, rejectExpirationDays: 10 }, /rejectExpirationDays: 10 must be greater than appliedBatchExpirationDays \(30\)/],
    ['a queue name prefix with a dot', { namePrefix: 'my.landfall' }, /namePrefix: "my.landfall"/],
    ['a log retention CloudWatch does not offer', { logRetentionDays: 10 }, /logRetentionDays: 10 is not a CloudWatch Logs retention/],
    ['a log level Powertools does not know', { logLevel: 'LOUD' as never }, /logLevel: "LOUD"/],
    ['a backup retention of zero (backups must stay on)', { database: { mode: 'new', backupRetentionDays: 0 } }, /backupRetentionDays: 0 must be 1–35/],
    ['an instance type with the db. prefix', { database: { mode: 'new', instanceType: 'db.t4g.micro' } }, /instanceType: "db.t4g.micro"/],
    ['an existing database with both IAM and a secret', { database: { ...existing, secretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:x-AbCdEf' } }, /give exactly one of iamResourceId .* and secretArn/],
    ['an existing database with neither IAM nor a secret', { database: { ...existing, iamResourceId: undefined } }, /give exactly one of iamResourceId/],
    ['an existing database without a host', { database: { ...existing, host: '' } }, /host: the proxy or database endpoint is required/],
    ['a subnet count that does not fit the AZs', { database: { ...existing, subnetIds: ['subnet-0aaa1111', 'subnet-0bbb2222', 'subnet-0ccc3333'], availabilityZones: ['a', 'b'] } }, /one AZ per subnet \(3 subnets, 2 AZs\)/],
    ['VPC endpoints without route tables', { database: { ...existing, vpcEndpoints: true } }, /routeTableIds: vpcEndpoints needs the route table of each subnet/],
    ['a subnet id CloudFormation would reject', { database: { ...existing, subnetIds: ['subnet-12'] } }, /subnetIds: needs at least one subnet id/],
    ['a security group id that is not one', { database: { ...existing, securityGroupId: 'default' } }, /securityGroupId: "default" is not a security group id/],
    ['LocalStack mode without the DATABASE_URL secret', { database: { mode: 'localstack', databaseUrlSecret: '', account: '000000000000' } }, /databaseUrlSecret: name or ARN of the DATABASE_URL secret is required/],
    ['an unknown database mode', { database: { mode: 'aurora' } as never }, /database.mode: "aurora" must be "new", "existing" or "localstack"/],
    // Issue 24
    ['a per-file invocation cap of one (no file could be continued)', { producerMaxInvocationsPerFile: 1 }, /producerMaxInvocationsPerFile: 1 must be an integer from 2 to 100000/],
    ['a connection budget mode that is neither refuse nor warn', { connectionBudget: 'ignore' as never }, /connectionBudget: "ignore" must be "refuse" or "warn"/],
    ['a storage ceiling less than 10% above the allocated storage', { database: { mode: 'new', allocatedStorageGiB: 100, maxAllocatedStorageGiB: 105 } }, /maxAllocatedStorageGiB: 105 must be an integer from 110 .* to 65536/],
    ['a max_connections PostgreSQL would not start with', { database: { mode: 'new', maxConnections: 5 } }, /database.maxConnections: 5 must be an integer from 10 to 262143/],
    ['an admin security group id that is not one', { database: { mode: 'new', adminSecurityGroupId: 'bastion' } }, /adminSecurityGroupId: "bastion" is not a security group id/],
    ['an admin prefix list id that is not one', { database: { mode: 'new', adminPrefixListId: 'pl-12' } }, /adminPrefixListId: "pl-12" is not a managed prefix list id/],
    ['an existing database that grants no connections', { database: { ...existing, maxConnections: 0 } }, /maxConnections: 0 must be a whole number of connections/],
    [
      'more consumer concurrency than a t4g.micro accepts through the proxy',
      { consumerMaxConcurrency: 200 },
      /connection budget: the functions may hold 205 database connections .* the database accepts 66 for them through RDS Proxy .* 139 too many\. Fix: cap the consumer at 61/,
    ],
    ['more connections than an existing database grants Landfall', { database: { ...existing, maxConnections: 10 } }, /the database accepts 10 for them, from the 10 connections it grants Landfall .* 7 too many/],
  ])('%s', (_name, props, message) => {
    expect(build(props)).toThrow(message);
  });

  it('reports every problem at once', () => {
    expect(build({ consumerMaxConcurrency: 0, namePrefix: '' })).toThrow(/namePrefix[\s\S]*consumerMaxConcurrency/);
  });

  it('refuses a table config too large for the Lambda environment', () => {
    const tables = Array.from({ length: 40 }, (_, i) => ({ table: `public.table_number_${i}`, conflictKey: ['id', 'tenant_id'], partitions: 1 }));
    expect(build({ config: parseConfig({ tables }) })).toThrow(/Lambda allows 4 KB of environment/);
  });

  it('a table prefix that overlaps the producer\'s rejected/ prefix', () => {
    const config = parseConfig({ tables: [{ table: 'r', prefix: 're', conflictKey: ['id'] }] });
    expect(build({ config })).toThrow(/prefix "re" overlaps "rejected\/"/);
  });

  it('a missing handler entry names the file', () => {
    expect(build({ entries: { producer: 'functions/nowhere/handler.ts' } })).toThrow(/functions\/nowhere\/handler\.ts/);
  });
});

describe('context', () => {
  const from = (context: Record<string, unknown>) => optionsFromContext((key) => context[key]);

  it('defaults to a new database', () => {
    expect(from({}).database).toEqual({ mode: 'new' });
  });

  it('reads the existing-database mode from flat keys, lists as comma-separated strings', () => {
    expect(
      from({
        [ContextKey.database]: 'existing',
        [ContextKey.dbHost]: 'h',
        [ContextKey.dbName]: 'd',
        [ContextKey.dbUser]: 'u',
        [ContextKey.dbIamResourceId]: 'prx-1',
        [ContextKey.vpcId]: 'vpc-1',
        [ContextKey.availabilityZones]: 'a, b',
        [ContextKey.subnetIds]: 'subnet-1,subnet-2',
        [ContextKey.securityGroupId]: 'sg-1',
        [ContextKey.dbPort]: '6432',
        [ContextKey.vpcEndpoints]: 'false',
      }).database,
    ).toEqual({
      mode: 'existing',
      host: 'h',
      databaseName: 'd',
      user: 'u',
      iamResourceId: 'prx-1',
      vpcId: 'vpc-1',
      availabilityZones: ['a', 'b'],
      subnetIds: ['subnet-1', 'subnet-2'],
      securityGroupId: 'sg-1',
      port: 6432,
      vpcEndpoints: false,
    });
  });

  it('reads the LocalStack mode', () => {
    expect(
      from({ [ContextKey.database]: 'localstack', [ContextKey.databaseUrlSecret]: 'db-url', [ContextKey.localstackAccount]: '000000000000' }).database,
    ).toEqual({
      mode: 'localstack',
      databaseUrlSecret: 'db-url',
      account: '000000000000',
    });
  });

  it('reads the new database\'s storage ceiling, max_connections and admin access', () => {
    expect(
      from({
        [ContextKey.dbAllocatedStorageGiB]: '50',
        [ContextKey.dbMaxAllocatedStorageGiB]: '1000',
        [ContextKey.dbMaxConnections]: '400',
        [ContextKey.adminSecurityGroupId]: 'sg-0123456789abcdef0',
        [ContextKey.adminPrefixListId]: 'pl-0123456789abcdef0',
        [ContextKey.dbMultiAz]: 'true',
      }).database,
    ).toEqual({ mode: 'new', allocatedStorageGiB: 50, maxAllocatedStorageGiB: 1000, maxConnections: 400, adminSecurityGroupId: 'sg-0123456789abcdef0', adminPrefixListId: 'pl-0123456789abcdef0', multiAz: true });
  });

  it('reads the invocation cap, reserved concurrency and the connection budget mode', () => {
    const options = from({ [ContextKey.producerMaxInvocationsPerFile]: '50', [ContextKey.reservedConcurrency]: 'true', [ContextKey.connectionBudget]: 'warn' });
    expect([options.producerMaxInvocationsPerFile, options.reservedConcurrency, options.connectionBudget]).toEqual([50, true, 'warn']);
  });

  it('rejects a boolean that is not true or false', () => {
    expect(() => from({ [ContextKey.highThroughputFifo]: 'yes' })).toThrow(/landfall:highThroughputFifo: "yes" must be true or false/);
  });

  it('rejects an unknown mode', () => {
    expect(() => from({ [ContextKey.database]: 'rds' })).toThrow(/landfall:database: "rds" must be new, existing or localstack/);
  });
});
