import { createHash } from 'node:crypto';
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import type { LandfallConfig } from '../shared/core/config.ts';
import { PrepareTablesEvent } from '../shared/core/deploy-event.ts';

export interface PrepareTablesProps {
  /** The function that reaches the database and may write catalog snapshots: the consumer. */
  readonly consumer: lambda.Function;
  readonly config: LandfallConfig;
  /** What must exist before it runs (the database, the proxy, the endpoints, the consumer's grants). */
  readonly after: readonly IConstruct[];
}

/**
 * The deploy step: after every deploy that changes the config or the consumer's code, a
 * CloudFormation custom resource invokes the consumer once with {@link PrepareTablesEvent}.
 * The consumer reads every configured table's catalog and writes its snapshot to staging, so
 * the producer partitions the first file by the canonical key and refuses a header that does
 * not fit it whole; a refused table is recorded as blocked (`landfall status`). It reuses the
 * consumer's own network path and grants (rds-db:connect, PutObject under catalog/), so the only
 * new permission is `lambda:InvokeFunction` on the consumer, for aws-cdk-lib's custom-resource
 * function. The consumer answers without failing when the database cannot be reached yet (a
 * new database before `landfall grant-role`): the deploy goes on and the first batch reads the
 * catalogs.
 */
export class PrepareTablesOnDeploy extends Construct {
  readonly resource: cr.AwsCustomResource;

  constructor(scope: Construct, id: string, props: PrepareTablesProps) {
    super(scope, id);
    const fn = props.consumer;
    // A change of either makes CloudFormation call onUpdate again: a deploy with new tables or new code prepares them.
    const codeKey = (fn.node.defaultChild as lambda.CfnFunction).code as { s3Key?: string } | undefined;
    const revision = createHash('sha256')
      .update(JSON.stringify(props.config))
      .update(Stack.of(this).resolve(codeKey?.s3Key ?? '') as string)
      .digest('hex')
      .slice(0, 16);
    const call: cr.AwsSdkCall = {
      service: 'Lambda',
      action: 'invoke',
      parameters: { FunctionName: fn.functionName, InvocationType: 'RequestResponse', Payload: JSON.stringify({ ...PrepareTablesEvent, revision }) },
      physicalResourceId: cr.PhysicalResourceId.of('landfall-prepare-tables'),
      // The answer is for the logs; only the status code goes back to CloudFormation (4 KB limit).
      outputPaths: ['StatusCode'],
    };
    this.resource = new cr.AwsCustomResource(this, 'Invoke', {
      onCreate: call,
      onUpdate: call,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ sid: 'InvokeConsumerOnDeploy', actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }),
      ]),
      // The consumer's own timeout (a VPC cold start, an IAM token, the ledger's migrations) and some.
      timeout: Duration.minutes(3),
      installLatestAwsSdk: false,
    });
    for (const dependency of props.after) this.resource.node.addDependency(dependency);
  }
}
