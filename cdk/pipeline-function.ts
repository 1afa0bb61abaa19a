import { isAbsolute, join } from 'node:path';
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FunctionEnv, type ResourceVar, type SettingVar } from '../shared/environment/function-env.ts';
import { FunctionSettings, type FunctionKey } from '../shared/core/resources.ts';
import { BLOCK_WORKER_BUNDLE } from '../shared/producer/block-worker-bundle.ts';

/**
 * Lambda's Node 24 runtime. aws-cdk-lib 2.276 has the constant; the fallback keeps an older
 * aws-cdk-lib working, since the runtime name is all CloudFormation needs.
 */
export const NODE_24_RUNTIME: lambda.Runtime =
  (lambda.Runtime as unknown as Record<string, lambda.Runtime | undefined>).NODEJS_24_X ??
  new lambda.Runtime('nodejs24.x', lambda.RuntimeFamily.NODEJS, { supportsInlineCode: true });

/** The actions Lambda needs to attach a function to a VPC; AWS only accepts `*` for them. */
export const VPC_ENI_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
] as const;

/**
 * The producer's block workers (shared/producer/block-workers.ts) run their own small bundle,
 * written beside the function's: a worker thread then loads the block reader and nothing else
 * (no AWS SDK). It imports no package, so it needs no `require` banner.
 */
const blockWorkerHooks: nodejs.ICommandHooks = {
  beforeBundling: () => [],
  beforeInstall: () => [],
  afterBundling: (inputDir, outputDir) => [
    [
      JSON.stringify(join(inputDir, 'node_modules', '.bin', 'esbuild')),
      JSON.stringify(join(inputDir, BLOCK_WORKER_BUNDLE.entry)),
      '--bundle --platform=node --format=esm --target=node24 --minify --keep-names --log-level=warning',
      `--outfile=${JSON.stringify(join(outputDir, BLOCK_WORKER_BUNDLE.file))}`,
    ].join(' '),
  ],
};

/**
 * ESM output needs `require` for the CommonJS modules esbuild inlines (parts of the AWS SDK);
 * Powertools' documentation recommends the same banner.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __landfallCreateRequire } from 'node:module'; const require = __landfallCreateRequire(import.meta.url);";

export interface PipelineFunctionProps<K extends FunctionKey = FunctionKey> {
  readonly kind: K;
  readonly projectRoot: string;
  readonly entry: string;
  readonly functionName: string;
  readonly environment: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  /** What Lambda does when the function's own output invokes it again (default: Terminate after 16 hops). */
  readonly recursiveLoop?: lambda.RecursiveLoop;
  /** Absent: the function runs outside any VPC. */
  readonly vpc?: {
    readonly vpc: ec2.IVpc;
    readonly subnets: ec2.SubnetSelection;
    readonly securityGroups: ec2.ISecurityGroup[];
  };
}

/**
 * One Landfall handler: Node 24 on ARM64, bundled by the locally installed esbuild (never
 * Docker) to ESM with source maps, with its own role (no managed policies) and its own log group.
 */
export class PipelineFunction<K extends FunctionKey = FunctionKey> extends Construct {
  readonly kind: K;
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  private readonly bound = new Set<string>();
  private databaseBound = false;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps<K>) {
    super(scope, id);
    this.kind = props.kind;
    const settings = FunctionSettings[props.kind];
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Landfall ${props.kind} function`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    if (props.vpc) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ sid: 'AttachToVpc', actions: [...VPC_ENI_ACTIONS], resources: ['*'] }),
      );
    }
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      functionName: props.functionName,
      description: `Landfall ${props.kind}`,
      entry: isAbsolute(props.entry) ? props.entry : join(props.projectRoot, props.entry),
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
      runtime: NODE_24_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: settings.memoryMiB,
      ...('ephemeralStorageMiB' in settings ? { ephemeralStorageSize: Size.mebibytes(settings.ephemeralStorageMiB) } : {}),
      timeout: Duration.seconds(settings.timeoutSeconds),
      role: this.role,
      logGroup: this.logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      ...(props.recursiveLoop ? { recursiveLoop: props.recursiveLoop } : {}),
      ...(props.vpc
        ? { vpc: props.vpc.vpc, vpcSubnets: props.vpc.subnets, securityGroups: props.vpc.securityGroups }
        : {}),
      bundling: {
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        keepNames: true,
        sourceMap: true,
        sourcesContent: false,
        bundleAwsSDK: true,
        // Only real warnings: esbuild's summary marks every bundle over 1 MB, and these bundle the AWS SDK.
        logLevel: nodejs.LogLevel.WARNING,
        ...(props.kind === 'producer' ? { commandHooks: blockWorkerHooks } : {}),
      },
    });
    // Synthesis fails when the stack leaves out a variable of the function's contract.
    this.node.addValidation({
      validate: () => {
        const contract = FunctionEnv[this.kind];
        const missing: string[] = contract.resources.filter((name) => !this.bound.has(name));
        if (contract.database && !this.databaseBound) missing.push('the database (bindDatabase)');
        return missing.map((what) => `Landfall ${this.kind} function: ${what} is in its environment contract (shared/environment/function-env.ts) but not bound`);
      },
    });
  }

  /**
   * Sets one variable of the function's environment contract and grants what makes it usable,
   * in one call (Powertools' `bindTable`): the variable cannot reach the function without its
   * grant, nor a variable outside the contract at all.
   *
   * @example producer.bind(EnvVar.batchesQueueUrl, queue.queueUrl, (role) => queue.grantSendMessages(role))
   */
  bind(variable: ResourceVar<K>, value: string, grant: (role: iam.Role) => void): void {
    const allowed: readonly string[] = FunctionEnv[this.kind].resources;
    if (!allowed.includes(variable)) throw new Error(`Landfall ${this.kind} function does not read ${variable} (shared/environment/function-env.ts)`);
    this.function.addEnvironment(variable, value);
    grant(this.role);
    this.bound.add(variable);
  }

  /** Sets one of the optional settings of the function's contract (no grant goes with it). */
  setting(variable: SettingVar<K>, value: string): void {
    const allowed: readonly string[] = FunctionEnv[this.kind].settings;
    if (!allowed.includes(variable)) throw new Error(`Landfall ${this.kind} function does not read ${variable} (shared/environment/function-env.ts)`);
    this.function.addEnvironment(variable, value);
  }

  /** The database variables and the grant to log in, for a function whose contract reaches the database. */
  bindDatabase(database: { readonly environment: Record<string, string>; grantConnect(grantee: iam.IGrantable): void }): void {
    if (!FunctionEnv[this.kind].database) throw new Error(`Landfall ${this.kind} function does not reach the database (shared/environment/function-env.ts)`);
    for (const [name, value] of Object.entries(database.environment)) this.function.addEnvironment(name, value);
    database.grantConnect(this.role);
    this.databaseBound = true;
  }
}
