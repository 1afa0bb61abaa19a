import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { startFauxqs } from 'fauxqs';
import { createS3Client, createSqsClient } from '../shared/aws/clients.ts';
import { type Poller, startLambdaPoller } from '../shared/local/lambda-poller.ts';
import { s3EventBodyOf } from '../shared/core/s3-event.ts';
import { type FunctionKey, MetricContract } from '../shared/core/resources.ts';
import { type Certificates, type FunctionCredentials, type IamProxy, PROXY_HOST, startIamProxy, type TlsPostgres } from './database.ts';
import { type FunctionPool, type FunctionSpec, functionPool, type LogLine } from './lambda.ts';
import { type AwsCall, type Recorder, startRecorder } from './recorder.ts';
import { decideInvocation, type LoopRecord, type RecursiveLoop } from './loop-detection.ts';
import { evaluateCalls, resourcePolicies, type RolePolicies, rolePolicies } from './iam.ts';
import { type Assembly, ofType, type Physical, resolver } from './template.ts';

export const REGION = 'us-east-1';
/** The caller name of the deploy step's calls (aws-cdk-lib's custom-resource function), in verdicts and grants. */
export const DEPLOY_STEP = 'deploy-step';

/**
 * Visibility timeouts of the queues that drive a function, shortened so that a failed record
 * comes again within seconds instead of 6× the function timeout (what the template sets, and
 * test/cdk checks). Everything else about the queues is the template's.
 */
export const REHEARSAL_VISIBILITY: Record<FunctionKey, number> = { producer: 20, consumer: 8, replay: 4 };
/** Containers per function at most (the machine is small; the template's MaximumConcurrency is recorded). */
const MAX_CONTAINERS = 2;

export interface EventSource {
  function: FunctionKey;
  queueId: string;
  batchSize: number;
  maximumConcurrency: number | undefined;
  reportBatchItemFailures: boolean;
}

export interface RehearsalStack {
  assembly: Assembly;
  certs: Certificates;
  account: string;
  endpoint: string;
  s3: S3Client;
  sqs: SQSClient;
  /** Physical names: buckets by logical id, queue URLs by logical id (direct to the emulator). */
  buckets: Record<string, string>;
  queueUrls: Record<string, string>;
  functions: Record<FunctionKey, { logicalId: string; spec: FunctionSpec; pool: FunctionPool; recorder: Recorder }>;
  eventSources: EventSource[];
  proxy: IamProxy | undefined;
  logs: LogLine[];
  /** The policies every call is evaluated against (the template's, resolved). */
  iam: { roles: RolePolicies[]; resourcePolicyOf: ReturnType<typeof resourcePolicies>; resolve: (value: unknown) => unknown };
  /** Calls the S3 service makes (notifications to the intake queue), evaluated against the queue policy. */
  serviceCalls: AwsCall[];
  /** Consumer events seen, so a check can send one again (the TLS check). */
  consumerEvents: SQSEvent[];
  /** The deploy step's `Lambda:Invoke` calls, by aws-cdk-lib's custom-resource function (evaluated against its role). */
  deployCalls: AwsCall[];
  /**
   * Runs what CloudFormation runs after the deploy: each custom resource that invokes one of the
   * stack's functions (the tables' preparation), with its role's permission enforced.
   */
  runDeploySteps(): Promise<{ resource: string; function: FunctionKey; answer: unknown }[]>;
  /** Uploads a file as upstream would and delivers the notifications the template configures. */
  drop(key: string, body: Buffer | string): Promise<{ versionId: string | undefined; notified: number; body: string }>;
  /** Notifies a file that is no longer there (deleted between its upload and the producer's read). */
  notifyVanished(key: string): Promise<void>;
  /** Sends a notification body again (a duplicate S3 event). */
  notifyAgain(body: string): Promise<void>;
  credentials: FunctionCredentials[];
  /** A function's environment as the template gives it, resolved, plus Lambda's runtime variables. */
  environmentOf(kind: FunctionKey, overrides?: Record<string, string | undefined>): Record<string, string>;
  /** Lambda's recursive loop detection as the event source mappings applied it, per function (rehearse/loop-detection.ts). */
  loops: Record<FunctionKey, LoopRecord & { recursiveLoop: RecursiveLoop }>;
  stop(): Promise<void>;
}

const kindOfFunction = (assembly: Assembly, id: string): FunctionKey | undefined => {
  const env = (assembly.resources[id]!.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  const service = env.POWERTOOLS_SERVICE_NAME;
  return (Object.entries(MetricContract.serviceNames) as [FunctionKey, string][]).find(([, name]) => name === service)?.[0];
};

/** Queues in creation order: a dead-letter target before the queues that redrive to it. */
function queueOrder(assembly: Assembly): string[] {
  const ids = ofType(assembly, 'AWS::SQS::Queue').map(([id]) => id);
  const target = (id: string) => {
    const redrive = assembly.resources[id]!.Properties?.RedrivePolicy as { deadLetterTargetArn?: { 'Fn::GetAtt': [string, string] } } | undefined;
    return redrive?.deadLetterTargetArn?.['Fn::GetAtt'][0];
  };
  const ordered: string[] = [];
  const visit = (id: string) => {
    if (ordered.includes(id)) return;
    const t = target(id);
    if (t) visit(t);
    ordered.push(id);
  };
  ids.forEach(visit);
  return ordered;
}

/**
 * Builds what `cdk deploy` would create, from the template, in the S3/SQS emulator (fauxqs
 * in-process, or AWS_ENDPOINT_URL), and runs each function's bundled asset behind a recorder,
 * driven by its event source mapping.
 */
export async function startRehearsalStack(options: {
  assembly: Assembly;
  certs: Certificates;
  database: TlsPostgres;
  /** The `rds-db:connect` resource id (the proxy's in new mode, the context's in existing mode). */
  iamResourceId: string | undefined;
  awsEndpointUrl?: string;
}): Promise<RehearsalStack> {
  const { assembly } = options;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    let endpoint = options.awsEndpointUrl;
    if (!endpoint) {
      const fauxqs = await startFauxqs({ port: 0, logger: false });
      stops.push(() => fauxqs.stop());
      endpoint = `http://127.0.0.1:${fauxqs.port}`;
    }
    const emulatorVersioning = Boolean(options.awsEndpointUrl);
    const admin = { endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
    const s3 = createS3Client(admin);
    const sqs = createSqsClient(admin);

    // --- Queues, in dependency order, with the template's attributes --------------------------
    const eventSources: EventSource[] = ofType(assembly, 'AWS::Lambda::EventSourceMapping').flatMap(([, r]) => {
      const p = r.Properties!;
      const fnId = (p.FunctionName as { Ref: string }).Ref;
      const kind = kindOfFunction(assembly, fnId);
      if (!kind) return [];
      return [
        {
          function: kind,
          queueId: (p.EventSourceArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
          batchSize: Number(p.BatchSize ?? 10),
          maximumConcurrency: (p.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency,
          reportBatchItemFailures: ((p.FunctionResponseTypes as string[] | undefined) ?? []).includes('ReportBatchItemFailures'),
        },
      ];
    });
    const queueUrls: Record<string, string> = {};
    const queueArns: Record<string, string> = {};
    let account = '000000000000';
    for (const id of queueOrder(assembly)) {
      const p = assembly.resources[id]!.Properties!;
      const name = p.QueueName as string;
      const drives = eventSources.find((e) => e.queueId === id)?.function;
      const attributes: Record<string, string> = {};
      if (p.FifoQueue) attributes.FifoQueue = 'true';
      if (p.ContentBasedDeduplication !== undefined) attributes.ContentBasedDeduplication = String(p.ContentBasedDeduplication);
      if (p.DeduplicationScope) attributes.DeduplicationScope = String(p.DeduplicationScope);
      if (p.FifoThroughputLimit) attributes.FifoThroughputLimit = String(p.FifoThroughputLimit);
      if (p.MessageRetentionPeriod !== undefined) attributes.MessageRetentionPeriod = String(p.MessageRetentionPeriod);
      const visibility = drives ? Math.min(REHEARSAL_VISIBILITY[drives], Number(p.VisibilityTimeout ?? 30)) : Number(p.VisibilityTimeout ?? 30);
      attributes.VisibilityTimeout = String(visibility);
      const redrive = p.RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': [string, string] }; maxReceiveCount: number } | undefined;
      if (redrive) {
        attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: queueArns[redrive.deadLetterTargetArn['Fn::GetAtt'][0]], maxReceiveCount: redrive.maxReceiveCount });
      }
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
      queueUrls[id] = QueueUrl!;
      queueArns[id] = Attributes!.QueueArn!;
      account = Attributes!.QueueArn!.split(':')[4]!;
    }

    // --- Buckets ----------------------------------------------------------------------------
    const buckets: Record<string, string> = {};
    const suffix = randomBytes(3).toString('hex');
    for (const [id, r] of ofType(assembly, 'AWS::S3::Bucket')) {
      const name = `rehearsal-${suffix}-${id.toLowerCase()}`.slice(0, 63);
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const versioned = (r.Properties?.VersioningConfiguration as { Status?: string } | undefined)?.Status === 'Enabled';
      if (versioned && emulatorVersioning) await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
      buckets[id] = name;
    }
    const versionedBuckets = new Set(
      ofType(assembly, 'AWS::S3::Bucket')
        .filter(([, r]) => (r.Properties?.VersioningConfiguration as { Status?: string } | undefined)?.Status === 'Enabled')
        .map(([id]) => buckets[id]!),
    );

    // --- IAM: the roles' and resources' policies, enforced on every call from here on ------------
    const functionIds = ofType(assembly, 'AWS::Lambda::Function').flatMap(([id]) => {
      const kind = kindOfFunction(assembly, id);
      return kind ? [[kind, id] as const] : [];
    });
    const iamResolve = resolver(assembly, {
      region: REGION,
      account,
      bucketName: (id) => buckets[id] ?? `missing-bucket-${id}`,
      queueName: (id) => assembly.resources[id]!.Properties!.QueueName as string,
      queueUrlBase: 'http://queues',
      proxyEndpoint: PROXY_HOST,
      proxyResourceId: options.iamResourceId ?? 'prx-none',
    });
    // aws-cdk-lib's custom-resource function: its role makes the deploy step's calls.
    const deploySteps = ofType(assembly, 'Custom::AWS').flatMap(([id, r]) => {
      if (r.Properties?.Create === undefined) return [];
      const call = JSON.parse(String(iamResolve(r.Properties!.Create))) as { service: string; action: string; parameters: { FunctionName: string; Payload: string } };
      if (call.service !== 'Lambda' || call.action !== 'invoke') return [];
      const provider = (r.Properties!.ServiceToken as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const kind = functionIds.find(([, fid]) => assembly.resources[fid]!.Properties!.FunctionName === call.parameters.FunctionName)?.[0];
      if (!kind) throw new Error(`template: custom resource ${id} invokes ${call.parameters.FunctionName}, not a function of the pipeline`);
      return [{ id, provider, kind, payload: JSON.parse(call.parameters.Payload) as Record<string, unknown> }];
    });
    const providers = Object.fromEntries([...new Set(deploySteps.map((d) => d.provider))].map((id) => [DEPLOY_STEP, id]));
    const roles = rolePolicies(assembly, iamResolve, { ...Object.fromEntries(functionIds), ...providers });
    const resourcePolicyOf = resourcePolicies(assembly, iamResolve);
    const decisions = new Map<string, Promise<boolean>>();
    const authorize = (call: AwsCall) => {
      const key = JSON.stringify([call.function, call.action, call.resource, call.context]);
      let decision = decisions.get(key);
      if (!decision) {
        decision = evaluateCalls([call], roles, resourcePolicyOf, account).then(([v]) => v!.result === 'Allowed');
        decisions.set(key, decision);
      }
      return decision;
    };

    // --- Functions: credentials, recorder, environment, containers -----------------------------
    const credentials: FunctionCredentials[] = functionIds.map(([kind]) => ({
      function: kind,
      accessKeyId: `ASIAREHEARSAL${kind.toUpperCase()}`,
      secretAccessKey: randomBytes(20).toString('base64'),
      sessionToken: randomBytes(24).toString('base64'),
    }));
    let proxy: IamProxy | undefined;
    if (options.iamResourceId) {
      proxy = await startIamProxy({ certs: options.certs, backendPort: options.database.port, resourceId: options.iamResourceId, region: REGION, account, credentials, authorize });
      stops.push(() => proxy!.stop());
    }
    const logs: LogLine[] = [];
    const functions = {} as RehearsalStack['functions'];
    const recorders: Partial<Record<FunctionKey, Recorder>> = {};
    // SQS's AWSTraceHeader of each message a function sent, and what loop detection made of them.
    const traceHeaders = new Map<string, string>();
    const loops = Object.fromEntries(
      functionIds.map(([kind, id]) => [kind, { maxHops: 0, dropped: 0, recursiveLoop: (assembly.resources[id]!.Properties?.RecursiveLoop as RecursiveLoop | undefined) ?? 'Terminate' }]),
    ) as RehearsalStack['loops'];
    for (const [kind] of functionIds) {
      const recorder = await startRecorder({ function: kind, upstream: endpoint, region: REGION, account, stripVersions: !emulatorVersioning, answerTagging: !emulatorVersioning, authorize, traceHeaders });
      stops.push(() => recorder.stop());
      recorders[kind] = recorder;
    }
    const physicalFor = (kind: FunctionKey): Physical => ({
      region: REGION,
      account,
      bucketName: (id) => buckets[id] ?? `missing-bucket-${id}`,
      queueName: (id) => assembly.resources[id]!.Properties!.QueueName as string,
      queueUrlBase: recorders[kind]!.endpoint,
      proxyEndpoint: PROXY_HOST,
      proxyResourceId: options.iamResourceId ?? 'prx-none',
    });
    const environmentOf = (kind: FunctionKey, overrides: Record<string, string | undefined> = {}): Record<string, string> => {
      const id = functionIds.find(([k]) => k === kind)![1];
      const props = assembly.resources[id]!.Properties!;
      const variables = resolver(assembly, physicalFor(kind))((props.Environment as { Variables: unknown }).Variables) as Record<string, string>;
      const creds = credentials.find((c) => c.function === kind)!;
      const env: Record<string, string | undefined> = {
        ...variables,
        // The database port the template names is RDS's 5432; the rehearsal's proxy listens elsewhere.
        ...(proxy && variables.LANDFALL_DB_HOST ? { LANDFALL_DB_PORT: String(proxy.port) } : {}),
        // What Lambda's runtime adds: region, function identity, the role's session credentials.
        AWS_REGION: REGION,
        AWS_DEFAULT_REGION: REGION,
        AWS_LAMBDA_FUNCTION_NAME: props.FunctionName as string,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(props.MemorySize),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_ACCESS_KEY_ID: creds.accessKeyId,
        AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
        AWS_SESSION_TOKEN: creds.sessionToken,
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        LAMBDA_TASK_ROOT: join(assembly.dir, (assembly.resources[id]!.Metadata!['aws:asset:path'] as string)),
        TZ: ':UTC',
        PATH: process.env.PATH,
        // The emulator instead of AWS, through this function's recorder.
        AWS_ENDPOINT_URL: recorders[kind]!.endpoint,
        // How a CA bundle reaches a function (RDS's, in AWS); here the rehearsal's own CA.
        NODE_EXTRA_CA_CERTS: options.certs.caFile,
        ...overrides,
      };
      return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
    };
    const specOf = (kind: FunctionKey, environment: Record<string, string>): FunctionSpec => {
      const id = functionIds.find(([k]) => k === kind)![1];
      const props = assembly.resources[id]!.Properties!;
      const [file, exportName] = String(props.Handler).split('.');
      const assetDir = join(assembly.dir, assembly.resources[id]!.Metadata!['aws:asset:path'] as string);
      return {
        kind,
        functionName: props.FunctionName as string,
        bundle: join(assetDir, `${file}.mjs`),
        exportName: exportName!,
        environment,
        memoryMiB: Number(props.MemorySize),
        timeoutSeconds: Number(props.Timeout),
      };
    };
    for (const [kind, id] of functionIds) {
      const spec = specOf(kind, environmentOf(kind));
      const pool = functionPool(spec, (line) => logs.push(line));
      stops.push(() => pool.stop());
      functions[kind] = { logicalId: id, spec, pool, recorder: recorders[kind]! };
    }

    // --- Event source mappings: Lambda's pollers, with the function's own credentials -----------
    const consumerEvents: SQSEvent[] = [];
    const pollers: Poller[] = [];
    for (const source of eventSources) {
      const fn = functions[source.function];
      const creds = credentials.find((c) => c.function === source.function)!;
      const pollerSqs = createSqsClient({ endpoint: fn.recorder.endpoint, region: REGION, credentials: creds });
      const queueUrl = `${fn.recorder.endpoint}/${account}/${assembly.resources[source.queueId]!.Properties!.QueueName as string}`;
      pollers.push(
        startLambdaPoller({
          name: source.function,
          sqs: pollerSqs,
          queueUrl,
          region: REGION,
          batchSize: source.batchSize,
          concurrency: Math.min(source.maximumConcurrency ?? MAX_CONTAINERS, MAX_CONTAINERS),
          handler: async (event) => {
            if (source.function === 'consumer') consumerEvents.push(event);
            // Lambda's loop detection: a record past 16 hops of this function's chain is not
            // processed (Terminate); it goes back to the queue and on to its DLQ.
            const loop = loops[source.function];
            const decisions = event.Records.map((r) => decideInvocation(traceHeaders.get(r.messageId), fn.spec.functionName, loop.recursiveLoop));
            const dropped = event.Records.filter((_, i) => decisions[i]!.dropped);
            loop.dropped += dropped.length;
            const kept = decisions.filter((d) => !d.dropped);
            loop.maxHops = Math.max(loop.maxHops, ...kept.map((d) => d.hops));
            const failures = dropped.map((r) => ({ itemIdentifier: r.messageId }));
            if (kept.length === 0) return { batchItemFailures: failures };
            const invoked = { ...event, Records: event.Records.filter((_, i) => !decisions[i]!.dropped) };
            const response = (await fn.pool.invoke(invoked, { traceHeader: kept[0]!.traceHeader })) as SQSBatchResponse | undefined;
            // Without ReportBatchItemFailures Lambda ignores the list: any failure fails the batch.
            if (!source.reportBatchItemFailures && (response?.batchItemFailures?.length ?? 0) > 0) throw new Error('batch failed');
            return failures.length > 0 ? { batchItemFailures: [...(response?.batchItemFailures ?? []), ...failures] } : response;
          },
          onError: () => {},
        }),
      );
    }
    stops.push(async () => {
      await Promise.all(pollers.map((p) => p.stop()));
    });

    // --- S3 notifications as the template configures them ---------------------------------------
    type QueueConfiguration = { Events: string[]; Filter?: { Key?: { FilterRules?: { Name: string; Value: string }[] } }; QueueArn: { 'Fn::GetAtt': [string, string] } };
    const notifications = ofType(assembly, 'Custom::S3BucketNotifications').flatMap(([, r]) => {
      const bucketId = (r.Properties!.BucketName as { Ref: string }).Ref;
      const configs = ((r.Properties!.NotificationConfiguration as { QueueConfigurations?: QueueConfiguration[] }).QueueConfigurations ?? []);
      return configs.map((c) => ({
        bucket: buckets[bucketId]!,
        events: c.Events,
        prefix: c.Filter?.Key?.FilterRules?.find((f) => f.Name.toLowerCase() === 'prefix')?.Value ?? '',
        suffix: c.Filter?.Key?.FilterRules?.find((f) => f.Name.toLowerCase() === 'suffix')?.Value ?? '',
        queueUrl: queueUrls[c.QueueArn['Fn::GetAtt'][0]]!,
        queueArn: queueArns[c.QueueArn['Fn::GetAtt'][0]]!,
      }));
    });
    const inboxId = Object.keys(buckets).find((id) => notifications.some((n) => n.bucket === buckets[id]));
    const serviceCalls: AwsCall[] = [];
    let sequence = 0;
    let versions = 0;
    const drop = async (key: string, body: Buffer | string, vanished = false) => {
      const bucket = buckets[inboxId!]!;
      const put = vanished
        ? { ETag: '"0123456789abcdef0123456789abcdef"', VersionId: undefined }
        : await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      // fauxqs has no versioning: a versioned bucket's drop gets a version id the recorder strips again.
      const versionId = put.VersionId ?? (versionedBuckets.has(bucket) ? `rehearsal-v${++versions}` : undefined);
      const message = s3EventBodyOf([{
        bucket,
        key,
        etag: (put.ETag ?? '').replace(/"/g, ''),
        size: Buffer.byteLength(body),
        eventTime: new Date().toISOString(),
        sequencer: (++sequence).toString(16).toUpperCase().padStart(16, '0'),
        region: REGION,
        ...(versionId ? { versionId } : {}),
      }]);
      let notified = 0;
      for (const n of notifications) {
        if (n.bucket !== bucket || !key.startsWith(n.prefix) || !key.endsWith(n.suffix)) continue;
        if (!n.events.some((e) => e === 's3:ObjectCreated:*' || e === 's3:ObjectCreated:Put')) continue;
        await sqs.send(new SendMessageCommand({ QueueUrl: n.queueUrl, MessageBody: message }));
        serviceCalls.push({
          function: 's3-notifications',
          operation: 'S3 event notification',
          action: 'sqs:SendMessage',
          resource: n.queueArn,
          context: { 'aws:SourceArn': `arn:aws:s3:::${bucket}`, 'aws:SourceAccount': account },
          status: 200,
          servicePrincipal: 's3.amazonaws.com',
        });
        notified++;
      }
      return { versionId, notified, body: message };
    };
    const notifyVanished = async (key: string) => {
      await drop(key, '', true);
    };
    const notifyAgain = async (body: string) => {
      for (const n of notifications) await sqs.send(new SendMessageCommand({ QueueUrl: n.queueUrl, MessageBody: body }));
    };

    const deployCalls: AwsCall[] = [];
    const runDeploySteps = async () => {
      const answers: { resource: string; function: FunctionKey; answer: unknown }[] = [];
      for (const step of deploySteps) {
        const arn = `arn:aws:lambda:${REGION}:${account}:function:${functions[step.kind].spec.functionName}`;
        const call: AwsCall = { function: DEPLOY_STEP, operation: `Invoke (custom resource ${step.id})`, action: 'lambda:InvokeFunction', resource: arn, context: {}, status: 200 };
        if (!(await authorize(call))) {
          deployCalls.push({ ...call, status: 403 });
          throw new Error(`deploy step ${step.id}: AccessDenied for lambda:InvokeFunction on ${arn}; the deploy would fail`);
        }
        deployCalls.push(call);
        answers.push({ resource: step.id, function: step.kind, answer: await functions[step.kind].pool.invoke(step.payload) });
      }
      return answers;
    };

    return {
      assembly,
      certs: options.certs,
      account,
      endpoint,
      s3,
      sqs,
      buckets,
      queueUrls,
      functions,
      eventSources,
      proxy,
      logs,
      consumerEvents,
      deployCalls,
      runDeploySteps,
      iam: { roles, resourcePolicyOf, resolve: iamResolve },
      serviceCalls,
      drop: (key, body) => drop(key, body),
      notifyVanished,
      notifyAgain,
      credentials,
      environmentOf,
      loops,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export { functionPool };
