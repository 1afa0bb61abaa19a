import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { findFreePort } from '../shared/local/embedded-postgres.ts';

/** One AWS API call as IAM sees it: the action and the resource it is evaluated on. */
export interface AwsCall {
  function: string;
  /** The API operation as sent, e.g. `CopyObject`, `SendMessageBatch`. */
  operation: string;
  action: string;
  resource: string;
  /** Condition keys of the request (s3:prefix for a listing). */
  context: Record<string, string>;
  status: number;
  /** Why the call is implied rather than sent (a 404 that S3 only gives with s3:ListBucket). */
  implied?: string;
  /** A service principal calling (S3 delivering a notification): only resource policies can allow it. */
  servicePrincipal?: string;
  /** `ChangeMessageVisibility(Batch)`: each message's receipt handle and the timeout asked for (s). */
  visibility?: { receiptHandle: string; seconds: number }[];
}

export interface Recorder {
  endpoint: string;
  calls: AwsCall[];
  stop(): Promise<void>;
}

const SQS_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

interface Mapped {
  operation: string;
  checks: { action: string; resource: string; context?: Record<string, string> }[];
  /** The request to forward, when the emulator needs it changed (no versioning in fauxqs). */
  path?: string;
  headers?: Record<string, string>;
  /** GetObject/HeadObject: S3 answers 404 only to a caller that may list the bucket. */
  bucketArn?: string;
  visibility?: AwsCall['visibility'];
}

function sqsCall(target: string | undefined, body: string, region: string, account: string): Mapped {
  let operation: string;
  let queue: string | undefined;
  type Change = { ReceiptHandle?: string; VisibilityTimeout?: number };
  let changes: Change[] = [];
  if (target) {
    operation = target.replace(/^AmazonSQS\./, '');
    const json = JSON.parse(body || '{}') as { QueueUrl?: string; QueueName?: string; Entries?: Change[] } & Change;
    queue = json.QueueUrl?.split('/').at(-1) ?? json.QueueName;
    changes = json.Entries ?? [json];
  } else {
    // The query protocol (older SDKs): one change, or ChangeMessageVisibilityBatchRequestEntry.N.*.
    const form = new URLSearchParams(body);
    operation = form.get('Action') ?? 'Unknown';
    queue = form.get('QueueUrl')?.split('/').at(-1) ?? form.get('QueueName') ?? undefined;
    const entry = (prefix: string): Change => ({ ReceiptHandle: form.get(`${prefix}ReceiptHandle`) ?? undefined, VisibilityTimeout: Number(form.get(`${prefix}VisibilityTimeout`) ?? NaN) });
    changes = [entry(''), ...Array.from({ length: 10 }, (_, i) => entry(`ChangeMessageVisibilityBatchRequestEntry.${i + 1}.`))];
  }
  const action = `sqs:${SQS_ACTIONS[operation] ?? operation}`;
  const visibility = changes.flatMap((c) => (c.ReceiptHandle !== undefined && Number.isFinite(c.VisibilityTimeout) ? [{ receiptHandle: c.ReceiptHandle, seconds: c.VisibilityTimeout! }] : []));
  return { operation, checks: [{ action, resource: `arn:aws:sqs:${region}:${account}:${queue ?? '*'}` }], ...(action === 'sqs:ChangeMessageVisibility' && visibility.length ? { visibility } : {}) };
}

/**
 * The IAM action and resource of an S3 REST request (path-style, as the functions send it to an
 * emulator). `versioned` buckets: a `versionId` makes the call its *Version action; when the
 * emulator has no versioning the version id is stripped before forwarding.
 */
export function s3Call(method: string, url: URL, headers: IncomingMessage['headers'], body: string, stripVersions: boolean): Mapped {
  const [, bucket = '', ...rest] = url.pathname.split('/');
  const key = decodeURIComponent(rest.join('/'));
  const q = url.searchParams;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const objectArn = `${bucketArn}/${key}`;
  const version = q.has('versionId');
  const strip = () => {
    if (!stripVersions || !version) return undefined;
    const copy = new URL(url);
    copy.searchParams.delete('versionId');
    return copy.pathname + copy.search;
  };
  const object = (operation: string, action: string): Mapped => ({ operation, checks: [{ action, resource: objectArn }], ...(strip() ? { path: strip()! } : {}) });
  if (!key) {
    if (method === 'GET' && q.has('versions')) return { operation: 'ListObjectVersions', checks: [{ action: 's3:ListBucketVersions', resource: bucketArn }] };
    if (method === 'GET' && q.has('location')) return { operation: 'GetBucketLocation', checks: [{ action: 's3:GetBucketLocation', resource: bucketArn }] };
    if (method === 'GET' || method === 'HEAD') {
      return { operation: method === 'HEAD' ? 'HeadBucket' : 'ListObjectsV2', checks: [{ action: 's3:ListBucket', resource: bucketArn, context: q.has('prefix') ? { 's3:prefix': q.get('prefix')! } : {} }] };
    }
    if (method === 'POST' && q.has('delete')) {
      const objects = [...body.matchAll(/<Object>([\s\S]*?)<\/Object>/g)].map((m) => ({
        key: /<Key>([\s\S]*?)<\/Key>/.exec(m[1]!)?.[1] ?? '',
        version: /<VersionId>/.test(m[1]!),
      }));
      return {
        operation: 'DeleteObjects',
        checks: objects.map((o) => ({ action: o.version ? 's3:DeleteObjectVersion' : 's3:DeleteObject', resource: `${bucketArn}/${o.key}` })),
      };
    }
    return { operation: `${method} bucket`, checks: [{ action: `s3:${method}Bucket`, resource: bucketArn }] };
  }
  if (method === 'GET' && q.has('tagging')) return object('GetObjectTagging', version ? 's3:GetObjectVersionTagging' : 's3:GetObjectTagging');
  if (method === 'PUT' && q.has('tagging')) return object('PutObjectTagging', version ? 's3:PutObjectVersionTagging' : 's3:PutObjectTagging');
  if (method === 'GET' || method === 'HEAD') {
    return { ...object(method === 'HEAD' ? 'HeadObject' : 'GetObject', version ? 's3:GetObjectVersion' : 's3:GetObject'), bucketArn };
  }
  if (method === 'DELETE' && q.has('uploadId')) return object('AbortMultipartUpload', 's3:AbortMultipartUpload');
  if (method === 'DELETE') return object('DeleteObject', version ? 's3:DeleteObjectVersion' : 's3:DeleteObject');
  if (method === 'PUT' && headers['x-amz-copy-source']) {
    const source = decodeURIComponent(String(headers['x-amz-copy-source']));
    const [sourcePath, sourceQuery = ''] = source.replace(/^\//, '').split('?');
    const sourceVersion = /(^|&)versionId=/.test(sourceQuery);
    const checks = [
      { action: sourceVersion ? 's3:GetObjectVersion' : 's3:GetObject', resource: `arn:aws:s3:::${sourcePath}` },
      { action: 's3:PutObject', resource: objectArn },
    ];
    const mapped: Mapped = { operation: 'CopyObject', checks };
    if (stripVersions && sourceVersion) mapped.headers = { 'x-amz-copy-source': String(headers['x-amz-copy-source']).split('?')[0]! };
    return mapped;
  }
  if (method === 'PUT' || method === 'POST') {
    const operation = q.has('uploads') ? 'CreateMultipartUpload' : q.has('partNumber') ? 'UploadPart' : q.has('uploadId') ? 'CompleteMultipartUpload' : 'PutObject';
    const mapped = object(operation, 's3:PutObject');
    if (headers['x-amz-tagging']) mapped.checks.push({ action: 's3:PutObjectTagging', resource: objectArn });
    return mapped;
  }
  return object(`${method} object`, `s3:${method}Object`);
}

/** The ids of the messages an SQS SendMessage(Batch) answer names (JSON protocol, or the query protocol's XML). */
function sentMessageIds(answer: string): string[] {
  try {
    const json = JSON.parse(answer) as { MessageId?: string; Successful?: { MessageId: string }[] };
    return [...(json.MessageId ? [json.MessageId] : []), ...(json.Successful ?? []).map((s) => s.MessageId)];
  } catch {
    return [...answer.matchAll(/<MessageId>([^<]+)<\/MessageId>/g)].map((m) => m[1]!);
  }
}

/** AWS's answer to a call IAM does not allow: S3's XML error, or SQS's JSON one. */
function accessDenied(res: ServerResponse, json: boolean, call: Pick<AwsCall, 'function' | 'action' | 'resource'>) {
  const message = `User: rehearsal ${call.function} role is not authorized to perform: ${call.action} on resource: ${call.resource}`;
  if (json) {
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': 'AccessDenied;Sender' });
    res.end(JSON.stringify({ __type: 'com.amazon.coral.service#AccessDeniedException', message }));
    return;
  }
  res.writeHead(403, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${message}</Message></Error>`);
}

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

/**
 * An HTTP recorder in front of the S3/SQS emulator, one per function: the function's
 * AWS_ENDPOINT_URL points here, so every call the bundled code (and its event source mapping)
 * makes is recorded with its IAM action and resource, then forwarded unchanged (but for the
 * version ids fauxqs does not know).
 */
export async function startRecorder(options: {
  function: string;
  upstream: string;
  region: string;
  account: string;
  /** The emulator has no versioning (fauxqs): version ids are recorded, then stripped. */
  stripVersions: boolean;
  /** The emulator cannot tag (fauxqs overwrites the object with the tagging XML): tagging is recorded and answered here. */
  answerTagging: boolean;
  /** IAM enforced: a call this refuses is answered AccessDenied, as AWS would, instead of forwarded. */
  authorize: (call: AwsCall) => Promise<boolean>;
  /**
   * Where SQS would keep a sent message's `X-Amzn-Trace-Id` (its AWSTraceHeader attribute), by
   * message id: the emulator keeps none, and Lambda's loop detection reads it.
   */
  traceHeaders?: Map<string, string>;
}): Promise<Recorder> {
  const upstream = new URL(options.upstream);
  const calls: AwsCall[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://recorder');
      const target = req.headers['x-amz-target'] as string | undefined;
      const queryProtocol = !target && String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded') && body.toString('utf8').includes('Action=');
      let mapped: Mapped;
      if (target?.startsWith('AmazonSQS.') || queryProtocol) mapped = sqsCall(target, body.toString('utf8'), options.region, options.account);
      else if (target?.startsWith('secretsmanager.')) {
        const json = JSON.parse(body.toString('utf8') || '{}') as { SecretId?: string };
        mapped = { operation: target.split('.')[1]!, checks: [{ action: `secretsmanager:${target.split('.')[1]}`, resource: json.SecretId ?? '*' }] };
      } else mapped = s3Call(req.method ?? 'GET', url, req.headers, body.toString('utf8'), options.stripVersions);

      const checked = mapped.checks.map((check) => ({ function: options.function, operation: mapped.operation, action: check.action, resource: check.resource, context: check.context ?? {}, ...(mapped.visibility ? { visibility: mapped.visibility } : {}) }));
      const allowed = await Promise.all(checked.map((c) => options.authorize({ ...c, status: 0 })));
      const denied = checked.find((_, i) => !allowed[i]);
      if (denied) {
        for (const c of checked) calls.push({ ...c, status: 403 });
        return accessDenied(res, Boolean(target || queryProtocol), denied);
      }
      if (options.answerTagging && mapped.operation === 'PutObjectTagging') {
        for (const c of checked) calls.push({ ...c, status: 200 });
        res.writeHead(200, { 'content-length': '0' });
        res.end();
        return;
      }
      const headers = { ...req.headers, ...mapped.headers, host: upstream.host };
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: mapped.path ?? req.url, headers },
        (upstreamRes) => {
          void (async () => {
            const status = upstreamRes.statusCode ?? 0;
            for (const c of checked) calls.push({ ...c, status });
            if (status === 404 && mapped.bucketArn) {
              const list: AwsCall = {
                function: options.function,
                operation: mapped.operation,
                action: 's3:ListBucket',
                resource: mapped.bucketArn,
                context: {},
                status,
                implied: 'S3 answers a missing key with 404 only to a caller that may s3:ListBucket; without it, 403',
              };
              calls.push(list);
              if (!(await options.authorize(list))) {
                upstreamRes.resume();
                return accessDenied(res, false, list);
              }
            }
            const traceHeader = req.headers['x-amzn-trace-id'];
            if (options.traceHeaders && typeof traceHeader === 'string' && status === 200 && (mapped.operation === 'SendMessage' || mapped.operation === 'SendMessageBatch')) {
              const answer = await readBody(upstreamRes);
              for (const id of sentMessageIds(answer.toString('utf8'))) options.traceHeaders.set(id, traceHeader);
              res.writeHead(status, upstreamRes.headers);
              res.end(answer);
              return;
            }
            res.writeHead(status, upstreamRes.headers);
            upstreamRes.pipe(res);
          })();
        },
      );
      forward.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      forward.end(body);
    })().catch((error: unknown) => {
      res.writeHead(500);
      res.end(String(error));
    });
  });
  const port = await findFreePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
