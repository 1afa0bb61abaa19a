import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import type { LandfallConfig } from '../shared/config.ts';
import { InboxLayout, StagingLayout } from '../shared/resources.ts';
import type { LandfallDatabase } from './database.ts';
import type { PipelineFunction } from './pipeline-function.ts';

/** CDK's singleton that applies S3 bucket notifications (a fixed construct id in aws-cdk-lib). */
const BUCKET_NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

export interface NagScope {
  readonly stack: Stack;
  readonly config: LandfallConfig;
  readonly inbox: s3.Bucket;
  readonly staging: s3.Bucket;
  readonly producer: PipelineFunction;
  readonly consumer: PipelineFunction;
  readonly replay: PipelineFunction;
  readonly database: LandfallDatabase;
  readonly multiAz: boolean;
}

/**
 * The cdk-nag AwsSolutions findings this stack accepts, each on the narrowest construct and
 * for the exact finding (`Rule[finding]`), with the reason. Everything else must be fixed.
 */
export function acknowledgeNagFindings(scope: NagScope): void {
  const { stack } = scope;
  const arnOf = (bucket: s3.Bucket) => `<${stack.getLogicalId(bucket.node.defaultChild as CfnElement)}.Arn>`;
  const ack = (construct: IConstruct, id: string, reason: string) => Validations.of(construct).acknowledge({ id, reason });

  for (const table of scope.config.tables) {
    ack(
      scope.producer.role,
      `AwsSolutions-IAM5[Resource::${arnOf(scope.inbox)}/${table.prefix}*]`,
      `The producer reads whatever upstream drops under the "${table.prefix}" prefix of table ${table.table}; object keys are not known at deploy time.`,
    );
  }
  ack(
    scope.producer.role,
    `AwsSolutions-IAM5[Resource::${arnOf(scope.inbox)}/${InboxLayout.rejectsPrefix}*]`,
    `The producer writes rejected rows and moves unreadable files under the "${InboxLayout.rejectsPrefix}" prefix of the inbox (PutObject only); keys follow the dropped files.`,
  );
  ack(
    scope.producer.role,
    `AwsSolutions-IAM5[Resource::${arnOf(scope.staging)}/*]`,
    'The producer writes batch objects and manifests under keys derived from file ids, only into the staging bucket (PutObject, and DeleteObject to clean up after an unreadable file).',
  );
  ack(
    scope.producer.role,
    `AwsSolutions-IAM5[Resource::${arnOf(scope.staging)}/${StagingLayout.manifestsPrefix}*]`,
    'The producer reads back the manifest of a file it may have produced before (GetObject only, under manifests/); keys are file ids.',
  );
  for (const pf of [scope.consumer, scope.replay]) {
    ack(
      pf.role,
      `AwsSolutions-IAM5[Resource::${arnOf(scope.staging)}/*]`,
      'Reads batch objects and manifests (GetObject only) of the staging bucket; keys are batch ids.',
    );
    ack(
      pf.role,
      `AwsSolutions-IAM5[Resource::${arnOf(scope.staging)}/${StagingLayout.batchesPrefix}*]`,
      'Tags applied batch objects (PutObjectTagging only) so the lifecycle rule expires them; keys are batch ids.',
    );
    if (scope.database.network) {
      ack(
        pf.role,
        'AwsSolutions-IAM5[Resource::*]',
        'Only the EC2 network-interface actions Lambda needs to run in a VPC (the AWSLambdaVPCAccessExecutionRole set); AWS does not support resource-level permissions for them.',
      );
    }
  }

  const instance = scope.database.instance;
  if (instance) {
    ack(
      instance,
      'AwsSolutions-RDS11',
      'PostgreSQL listens on 5432 in private subnets behind security groups; RDS Proxy exposes 5432 regardless, so another port hides nothing.',
    );
    if (!scope.multiAz) {
      ack(
        instance,
        'AwsSolutions-RDS3',
        'Single-AZ by default to keep a small deployment cheap; set the multiAz option for production. Automated backups are on.',
      );
    }
    {
      ack(
        instance,
        'AwsSolutions-SMG4',
        'The master secret is only read by RDS Proxy; the functions authenticate with short-lived IAM tokens, never with this password. Rotating it needs a rotation Lambda and a network path to Secrets Manager, left to the operator.',
      );
    }
  }

  const handler = stack.node.tryFindChild(BUCKET_NOTIFICATIONS_HANDLER_ID);
  if (handler) {
    ack(
      handler,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "aws-cdk-lib's own custom resource that configures the inbox's bucket notifications at deploy time; its role is not configurable.",
    );
  }
}
