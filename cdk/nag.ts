import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import type { LandfallConfig } from '../shared/core/config.ts';
import { InboxLayout, StagingLayout } from '../shared/core/resources.ts';
import type { LandfallDatabase } from './database.ts';
import type { PipelineFunction } from './pipeline-function.ts';

/** CDK's singleton that applies S3 bucket notifications (a fixed construct id in aws-cdk-lib). */
const BUCKET_NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';
/** The singleton function that sets a log group's retention (a fixed construct id in aws-cdk-lib). */
const LOG_RETENTION_ID = 'LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a';
/** The singleton function behind every `AwsCustomResource` (a fixed construct id in aws-cdk-lib). */
const AWS_CUSTOM_RESOURCE_PROVIDER_ID = 'AWS679f53fac002430cb0da5b7982bd2287';

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
  for (const prefix of [StagingLayout.batchesPrefix, StagingLayout.manifestsPrefix]) {
    ack(
      scope.producer.role,
      `AwsSolutions-IAM5[Resource::${arnOf(scope.staging)}/${prefix}*]`,
      `The producer writes ${prefix === StagingLayout.batchesPrefix ? 'batch objects' : 'file manifests (and reads them back, GetObject, to re-send a produced file instead of cutting it again)'} under "${prefix}" of the staging bucket, keys derived from file ids (PutObject, and DeleteObject to clean up after an unreadable file).`,
    );
  }
  ack(
    scope.producer.role,
    `AwsSolutions-IAM5[Resource::${arnOf(scope.staging)}/${StagingLayout.catalogPrefix}*]`,
    `The producer reads the tables' catalog snapshots (GetObject only) under "${StagingLayout.catalogPrefix}" of the staging bucket; one key per configured table.`,
  );
  ack(
    scope.producer.role,
    `AwsSolutions-IAM5[Resource::${arnOf(scope.staging)}/${StagingLayout.manifestsPrefix}*]`,
    'The producer reads back the manifest of a file it may have produced before (GetObject only, under manifests/); keys are file ids.',
  );
  for (const pf of [scope.consumer, scope.replay]) {
    ack(
      pf.role,
      `AwsSolutions-IAM5[Resource::${arnOf(scope.staging)}/${StagingLayout.batchesPrefix}*]`,
      'Reads batch objects (GetObject) and tags applied ones (PutObjectTagging) so the lifecycle rule expires them, under "batches/" of the staging bucket; keys are batch ids.',
    );
    ack(
      pf.role,
      `AwsSolutions-IAM5[Resource::${arnOf(scope.staging)}/${StagingLayout.catalogPrefix}*]`,
      `Writes the tables' catalog snapshots (PutObject only) under "${StagingLayout.catalogPrefix}" of the staging bucket, for the producer; one key per configured table.`,
    );
    ack(
      pf.role,
      `AwsSolutions-IAM5[Resource::${arnOf(scope.staging)}/${StagingLayout.manifestsPrefix}*]`,
      'Reads file manifests (GetObject only) under "manifests/" of the staging bucket; keys are file ids.',
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
        'Single-AZ unless -c landfall:dbMultiAz=true (synth warns while the choice is not made): a small deployment stays cheap; production sets it. Automated backups are on.',
      );
    }
  }

  // aws-cdk-lib's own singleton functions: their roles carry AWSLambdaBasicExecutionRole and are not configurable.
  const ackBasicExecution = (singletonId: string, what: string) => {
    const singleton = stack.node.tryFindChild(singletonId);
    if (!singleton) return;
    ack(
      singleton,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      `aws-cdk-lib's own custom-resource function that ${what} at deploy time; only log permissions come from this managed policy, and its role is not configurable.`,
    );
  };
  const prefixList = scope.database.node.tryFindChild('S3PrefixList');
  if (prefixList) {
    ack(
      prefixList,
      'AwsSolutions-IAM5[Resource::*]',
      "Deploy-time lookup of the S3 prefix list id for the functions' egress rule: ec2:DescribeManagedPrefixLists supports no resource-level permissions.",
    );
  }
  ackBasicExecution(AWS_CUSTOM_RESOURCE_PROVIDER_ID, prefixList ? 'looks up the S3 prefix-list id and invokes the consumer to prepare the tables' : 'invokes the consumer to prepare the tables');
  ackBasicExecution(BUCKET_NOTIFICATIONS_HANDLER_ID, "configures the inbox's bucket notifications");
  ackBasicExecution(LOG_RETENTION_ID, "sets the retention of the database's postgresql log group (RDS creates it, so CloudFormation cannot)");
  const logRetention = stack.node.tryFindChild(LOG_RETENTION_ID);
  if (logRetention) {
    ack(
      logRetention,
      'AwsSolutions-IAM5[Resource::*]',
      "aws-cdk-lib's log-retention function: logs:PutRetentionPolicy and DeleteRetentionPolicy on the log group RDS creates for the postgresql log export, whose name is known only after the instance exists; its policy is not configurable.",
    );
  }
}
