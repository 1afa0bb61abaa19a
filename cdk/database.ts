import { Annotations, ArnFormat, Duration, RemovalPolicy, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { EnvVar } from '../shared/environment/env.ts';
import { RetryPolicy } from '../shared/core/retry-policy.ts';
import { DEFAULT_APP_ROLE } from '../shared/postgres/ledger/app-role.ts';
import {
  type DatabaseOptions,
  DEFAULT_INSTANCE_TYPE,
  type ExistingDatabaseOptions,
  type LocalStackDatabaseOptions,
  type NewDatabaseOptions,
  PROXY_MAX_CONNECTIONS_PERCENT,
} from './props.ts';

/**
 * The database user the functions log in as in new-database mode: a least-privilege role
 * (`landfall grant-role` creates it, shared/postgres/ledger/app-role.ts), never the master user.
 */
export const NEW_DATABASE_USER = DEFAULT_APP_ROLE;
/** The RDS master user: only the operator logs in as it (to run `landfall grant-role`). */
export const NEW_DATABASE_ADMIN = 'landfall_admin';
export const NEW_DATABASE_NAME = 'landfall';
const PG_PORT = 5432;

/**
 * Lambda's file of every Amazon CA certificate, RDS's included. Node 20+ runtimes no longer
 * load it by default; NODE_EXTRA_CA_CERTS adds it to Node's own roots ("CA certificate
 * loading", https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html). RDS Proxy
 * certificates chain to an Amazon root Node already trusts; an instance's are signed by the
 * RDS CA, which only this file brings. The runtime keeps the file current as RDS rotates CAs.
 */
export const LAMBDA_CA_BUNDLE = '/var/runtime/ca-cert.pem';
export const NODE_EXTRA_CA_CERTS = 'NODE_EXTRA_CA_CERTS';

/** An RDS Proxy endpoint (`name.proxy-abc.region.rds.amazonaws.com`): its certificate needs no extra CA. */
export const isRdsProxyHost = (host: string) => /\.proxy-[a-z0-9]+\.[a-z0-9-]+\.rds\.amazonaws\.com(\.cn)?$/i.test(host);

export interface FunctionNetwork {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
}

/**
 * How the consumer and replay reach PostgreSQL, whatever the mode: the network they run in,
 * the environment that tells the code where to connect, and the grant that lets them.
 */
export class LandfallDatabase extends Construct {
  /** Undefined: the functions run outside any VPC (LocalStack mode). */
  readonly network: FunctionNetwork | undefined;
  readonly environment: Record<string, string> = {};
  readonly mode: DatabaseOptions['mode'];
  /** Set in new-database mode. */
  readonly instance?: rds.DatabaseInstance;
  readonly proxy?: rds.DatabaseProxy;
  readonly vpc?: ec2.IVpc;
  private readonly grants: ((grantee: iam.IGrantable) => void)[] = [];

  constructor(scope: Construct, id: string, options: DatabaseOptions, settings: { logRetention: logs.RetentionDays } = { logRetention: logs.RetentionDays.ONE_MONTH }) {
    super(scope, id);
    this.mode = options.mode;
    switch (options.mode) {
      case 'new': {
        const made = this.createNew(options, settings.logRetention);
        this.network = made.network;
        this.instance = made.instance;
        this.proxy = made.proxy;
        this.vpc = made.network.vpc;
        break;
      }
      case 'existing':
        this.network = this.useExisting(options);
        this.vpc = this.network.vpc;
        break;
      case 'localstack':
        this.network = undefined;
        this.useLocalStack(options);
        break;
    }
  }

  /** Lets a function log in (IAM `rds-db:connect` or reading the credentials secret). */
  grantConnect(grantee: iam.IGrantable): void {
    for (const grant of this.grants) grant(grantee);
  }

  private createNew(options: NewDatabaseOptions, logRetention: logs.RetentionDays) {
    const flowLogs = new logs.LogGroup(this, 'VpcFlowLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Private subnets only: nothing here needs the internet, and S3 and SQS come through
    // endpoints, so there is no NAT gateway to pay for.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      // The default security group gets no rules (nothing uses it; CDK removes AWS's defaults).
      restrictDefaultSecurityGroup: true,
      flowLogs: {
        rejected: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.REJECT },
      },
    });
    const subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

    const functionsSg = new ec2.SecurityGroup(this, 'FunctionsSecurityGroup', {
      vpc,
      description: 'Landfall consumer and replay functions',
      allowAllOutbound: false,
    });
    // HTTPS only to S3 (its regional prefix list, the gateway endpoint's routes) and to the
    // interface endpoints' security groups (below), not to 0.0.0.0/0.
    functionsSg.addEgressRule(ec2.Peer.prefixList(s3PrefixListId(this)), ec2.Port.tcp(443), 'HTTPS to S3 through the gateway endpoint');
    const proxySg = new ec2.SecurityGroup(this, 'ProxySecurityGroup', {
      vpc,
      description: 'Landfall RDS Proxy',
      allowAllOutbound: false,
    });
    const databaseSg = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc,
      description: 'Landfall PostgreSQL',
      allowAllOutbound: false,
    });

    // `landfall grant-role` runs from a host you name (a bastion, a CloudShell VPC environment):
    // its security group or prefix list may reach PostgreSQL, nothing else is opened.
    if (options.adminSecurityGroupId) {
      databaseSg.addIngressRule(ec2.Peer.securityGroupId(options.adminSecurityGroupId), ec2.Port.tcp(PG_PORT), 'landfall grant-role from the admin host');
    }
    if (options.adminPrefixListId) {
      databaseSg.addIngressRule(ec2.Peer.prefixList(options.adminPrefixListId), ec2.Port.tcp(PG_PORT), 'landfall grant-role from the admin networks');
    }

    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 });
    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: 'Landfall PostgreSQL 17: TLS only',
      parameters: {
        'rds.force_ssl': '1',
        // A transaction left open by a function Lambda killed (the proxy keeps its session) ends
        // after this long idle, instead of holding its locks (shared/core/retry-policy.ts).
        idle_in_transaction_session_timeout: String(RetryPolicy.idleInTransactionMs),
      },
    });
    // The connection budget (cdk/connection-budget.ts) counts on it.
    if (options.maxConnections !== undefined) parameterGroup.addParameter('max_connections', String(options.maxConnections));
    if (options.multiAz === undefined) {
      Annotations.of(this).addWarningV2(
        '@landfall/single-az',
        'The database is single-AZ because landfall:dbMultiAz is not set: an AZ outage stops the pipeline until it ends. For production pass -c landfall:dbMultiAz=true (a standby doubles the instance cost); -c landfall:dbMultiAz=false says single-AZ on purpose and silences this.',
      );
    }
    const allocatedStorage = options.allocatedStorageGiB ?? 20;
    const instance = new rds.DatabaseInstance(this, 'Instance', {
      engine,
      instanceType: new ec2.InstanceType(options.instanceType ?? DEFAULT_INSTANCE_TYPE),
      vpc,
      vpcSubnets: subnets,
      securityGroups: [databaseSg],
      // RDS keeps the master password in Secrets Manager and rotates it itself (every 7 days):
      // no rotation function, no unrotated secret. Only the operator reads it (grant-role).
      credentials: rds.Credentials.fromUsername(NEW_DATABASE_ADMIN),
      manageMasterUserPassword: true,
      databaseName: NEW_DATABASE_NAME,
      port: PG_PORT,
      storageEncrypted: true,
      storageType: rds.StorageType.GP3,
      allocatedStorage,
      maxAllocatedStorage: options.maxAllocatedStorageGiB ?? allocatedStorage * 5,
      multiAz: options.multiAz ?? false,
      backupRetention: Duration.days(options.backupRetentionDays ?? 7),
      deletionProtection: options.deletionProtection ?? true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      iamAuthentication: true,
      publiclyAccessible: false,
      autoMinorVersionUpgrade: true,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      parameterGroup,
      // What a slow database is doing (Database Insights' standard mode, 7 days, no charge)
      // and PostgreSQL's own log (errors, lock waits, long statements) in CloudWatch Logs.
      enablePerformanceInsights: true,
      cloudwatchLogsExports: ['postgresql'],
      cloudwatchLogsRetention: logRetention,
    });

    // End-to-end IAM: the functions log in to the proxy with IAM tokens and the proxy logs in
    // to PostgreSQL as the same role with IAM too. The proxy holds no secret, so no password
    // (least of all the master's) stands between a function and the database.
    const proxyRole = new iam.Role(this, 'ProxyRole', {
      assumedBy: new iam.ServicePrincipal('rds.amazonaws.com'),
      description: 'Landfall RDS Proxy: logs in to PostgreSQL as the application role with IAM',
    });
    const proxy = new rds.DatabaseProxy(this, 'Proxy', {
      proxyTarget: rds.ProxyTarget.fromInstance(instance),
      defaultAuthScheme: rds.DefaultAuthScheme.IAM_AUTH,
      role: proxyRole,
      vpc,
      vpcSubnets: subnets,
      securityGroups: [proxySg],
      requireTLS: true,
      // Well under the consumer's 60 s timeout: a saturated pool fails the invocation with a
      // clear error (retried by SQS) instead of a Lambda timeout.
      borrowTimeout: Duration.seconds(30),
      idleClientTimeout: Duration.minutes(15),
      maxConnectionsPercent: PROXY_MAX_CONNECTIONS_PERCENT,
      debugLogging: false,
    });
    databaseSg.addIngressRule(proxySg, ec2.Port.tcp(PG_PORT), 'RDS Proxy to PostgreSQL');
    proxySg.addEgressRule(databaseSg, ec2.Port.tcp(PG_PORT), 'RDS Proxy to PostgreSQL');
    proxySg.addIngressRule(functionsSg, ec2.Port.tcp(PG_PORT), 'Landfall functions to RDS Proxy');
    functionsSg.addEgressRule(proxySg, ec2.Port.tcp(PG_PORT), 'Landfall functions to RDS Proxy');

    proxyRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ConnectAsApplicationRole',
        actions: ['rds-db:connect'],
        resources: [
          Stack.of(this).formatArn({
            service: 'rds-db',
            resource: 'dbuser',
            resourceName: `${instance.instanceResourceId}/${NEW_DATABASE_USER}`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    // No Secrets Manager endpoint: nothing in the VPC reads a secret.
    addVpcEndpoints(this, vpc, subnets, [functionsSg], { s3: true, sqs: true, ownAccountOnly: true });

    Object.assign(this.environment, {
      [EnvVar.dbHost]: proxy.endpoint,
      [EnvVar.dbPort]: String(PG_PORT),
      [EnvVar.dbName]: NEW_DATABASE_NAME,
      [EnvVar.dbUser]: NEW_DATABASE_USER,
    });
    this.grants.push((grantee) => proxy.grantConnect(grantee, NEW_DATABASE_USER));
    return { network: { vpc, subnets, securityGroups: [functionsSg] }, instance, proxy };
  }

  private useExisting(options: ExistingDatabaseOptions): FunctionNetwork {
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: options.vpcId,
      availabilityZones: options.availabilityZones,
      privateSubnetIds: options.subnetIds,
      ...(options.routeTableIds ? { privateSubnetRouteTableIds: options.routeTableIds } : {}),
    });
    if (!options.routeTableIds) {
      Validations.of(vpc).acknowledge({
        id: '@aws-cdk/aws-ec2:noSubnetRouteTableId',
        reason: 'Route tables of an existing VPC are only needed for the S3 gateway endpoint (vpcEndpoints), which then requires routeTableIds.',
      });
    }
    const subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    // Imported immutable: the user's security group is theirs, the stack adds no rules to it.
    const functionsSg = ec2.SecurityGroup.fromSecurityGroupId(this, 'FunctionsSecurityGroup', options.securityGroupId, {
      mutable: false,
    });
    if (options.vpcEndpoints) {
      addVpcEndpoints(this, vpc, subnets, [functionsSg], { s3: true, sqs: true });
      if (options.secretArn) {
        addInterfaceEndpoint(this, 'SecretsManagerEndpoint', vpc, subnets, ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER, [functionsSg]);
      }
    }
    const port = options.port ?? PG_PORT;
    Object.assign(this.environment, {
      [EnvVar.dbHost]: options.host,
      [EnvVar.dbPort]: String(port),
      [EnvVar.dbName]: options.databaseName,
      [EnvVar.dbUser]: options.user,
    });
    // Straight to an instance (or anything that is not RDS Proxy): the RDS CA must be trusted.
    if (options.proxy === false || !isRdsProxyHost(options.host)) this.environment[NODE_EXTRA_CA_CERTS] = LAMBDA_CA_BUNDLE;
    if (options.iamResourceId) {
      const resourceId = options.iamResourceId;
      const user = options.user;
      this.grants.push((grantee) => {
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['rds-db:connect'],
          resourceArns: [
            Stack.of(this).formatArn({
              service: 'rds-db',
              resource: 'dbuser',
              resourceName: `${resourceId}/${user}`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        });
      });
    } else if (options.secretArn) {
      const secret = importSecret(this, 'Credentials', options.secretArn);
      this.environment[EnvVar.dbSecretArn] = options.secretArn;
      this.grants.push((grantee) => secret.grantRead(grantee));
    }
    return { vpc, subnets, securityGroups: [functionsSg] };
  }

  private useLocalStack(options: LocalStackDatabaseOptions): void {
    // A CloudFormation dynamic reference, resolved at deploy time: the template holds the
    // secret's name, never the URL.
    this.environment[EnvVar.databaseUrl] = SecretValue.secretsManager(options.databaseUrlSecret).unsafeUnwrap();
  }
}

/**
 * The id of the region's AWS-managed S3 prefix list (`com.amazonaws.<region>.s3`): ids differ
 * per region and CloudFormation cannot look them up, so a custom resource asks EC2 at deploy
 * time (the stack stays environment-agnostic, no synth-time lookup).
 */
function s3PrefixListId(scope: Construct): string {
  const lookup = new cr.AwsCustomResource(scope, 'S3PrefixList', {
    onUpdate: {
      service: 'EC2',
      action: 'describeManagedPrefixLists',
      parameters: { Filters: [{ Name: 'prefix-list-name', Values: [`com.amazonaws.${Stack.of(scope).region}.s3`] }] },
      physicalResourceId: cr.PhysicalResourceId.of(`s3-prefix-list-${Stack.of(scope).region}`),
      outputPaths: ['PrefixLists.0.PrefixListId'],
    },
    // DescribeManagedPrefixLists supports no resource-level permissions.
    policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE }),
    installLatestAwsSdk: false,
  });
  return lookup.getResponseField('PrefixLists.0.PrefixListId');
}

function importSecret(scope: Construct, id: string, nameOrArn: string): secretsmanager.ISecret {
  if (!nameOrArn.startsWith('arn:')) return secretsmanager.Secret.fromSecretNameV2(scope, id, nameOrArn);
  // A complete ARN ends in "-" and six random characters; a partial one (as users often copy
  // it) does not, and grants then cover the suffix with a wildcard.
  return /-[A-Za-z0-9]{6}$/.test(nameOrArn)
    ? secretsmanager.Secret.fromSecretCompleteArn(scope, id, nameOrArn)
    : secretsmanager.Secret.fromSecretPartialArn(scope, id, nameOrArn);
}

function addInterfaceEndpoint(
  scope: Construct,
  id: string,
  vpc: ec2.IVpc,
  subnets: ec2.SubnetSelection,
  service: ec2.InterfaceVpcEndpointAwsService,
  clients: ec2.ISecurityGroup[],
): ec2.InterfaceVpcEndpoint {
  const sg = new ec2.SecurityGroup(scope, `${id}SecurityGroup`, {
    vpc,
    description: `Landfall ${id}`,
    allowAllOutbound: false,
  });
  for (const client of clients) {
    sg.addIngressRule(client, ec2.Port.tcp(443), 'HTTPS from Landfall');
    // A security group of the stack's own also needs the way out; an imported one is the user's.
    if (client instanceof ec2.SecurityGroup) client.addEgressRule(sg, ec2.Port.tcp(443), `HTTPS to the ${id}`);
  }
  return vpc.addInterfaceEndpoint(id, { service, subnets, securityGroups: [sg], open: false, privateDnsEnabled: true });
}

function addVpcEndpoints(
  scope: Construct,
  vpc: ec2.IVpc,
  subnets: ec2.SubnetSelection,
  clients: ec2.ISecurityGroup[],
  which: { s3: boolean; sqs: boolean; ownAccountOnly?: boolean },
): void {
  const endpoints: (ec2.GatewayVpcEndpoint | ec2.InterfaceVpcEndpoint)[] = [];
  if (which.s3) endpoints.push(vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [subnets] }));
  if (which.sqs) endpoints.push(addInterfaceEndpoint(scope, 'SqsEndpoint', vpc, subnets, ec2.InterfaceVpcEndpointAwsService.SQS, clients));
  if (!which.ownAccountOnly) return;
  // A data perimeter in the stack's own VPC: through these endpoints only buckets and queues
  // of this account can be reached, so nothing in the VPC can copy data to someone else's.
  // Not in an existing VPC: other workloads there may use other accounts' resources.
  for (const endpoint of endpoints) {
    endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'OwnAccountResourcesOnly',
        principals: [new iam.AnyPrincipal()],
        actions: [endpoint instanceof ec2.GatewayVpcEndpoint ? 's3:*' : 'sqs:*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:ResourceAccount': Stack.of(scope).account } },
      }),
    );
  }
}
