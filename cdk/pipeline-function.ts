import { isAbsolute, join } from 'node:path';
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FunctionSettings, type FunctionKey } from '../shared/resources.ts';

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
 * ESM output needs `require` for the CommonJS modules esbuild inlines (parts of the AWS SDK);
 * Powertools' documentation recommends the same banner.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __landfallCreateRequire } from 'node:module'; const require = __landfallCreateRequire(import.meta.url);";

export interface PipelineFunctionProps {
  readonly kind: FunctionKey;
  readonly projectRoot: string;
  readonly entry: string;
  readonly functionName: string;
  readonly environment: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
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
export class PipelineFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
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
      },
    });
  }
}
