import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * The inbox's notification target: like aws-cdk-lib's `SqsDestination`, but S3 may send only
 * for this bucket (`aws:SourceArn`) AND this account (`aws:SourceAccount`). Bucket names are
 * global: a bucket of that name in another account, after this one is deleted, must not feed
 * the queue (AWS's confused-deputy guidance for S3 event notifications). The queue is
 * encrypted with an SQS-managed key, so no key policy is needed.
 */
export class AccountBoundSqsDestination implements s3.IBucketNotificationDestination {
  private readonly queue: sqs.IQueue;

  constructor(queue: sqs.IQueue) {
    this.queue = queue;
  }

  bind(_scope: Construct, bucket: s3.IBucket): s3.BucketNotificationDestinationConfig {
    // SendMessage only (AWS's documented queue policy for S3 event notifications); CDK's
    // grantSendMessages would add GetQueueAttributes and GetQueueUrl, which S3 never calls.
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'InboxNotifications',
        principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': bucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(bucket).account },
        },
      }),
    );
    return { arn: this.queue.queueArn, type: s3.BucketNotificationDestinationType.QUEUE, dependencies: [this.queue] };
  }
}
