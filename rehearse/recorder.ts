import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
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
}

function sqsCall(target: string | undefined, body: string, region: string, account: string): Mapped {
  let operation: string;
  let queue: string | undefined;
  if (target) {
    operation = target.replace(/^AmazonSQS\./, '');
    const json = JSON.parse(body || '{}') as { QueueUrl?: string; QueueName?: string };
    queue = json.QueueUrl?.split('/').at(-1) ?? json.QueueName;
  } else {
    const form = new URLSearchParams(body);
    operation = form.get('Action') ?? 'Unknown';
    queue = form.get('QueueUrl')?.split('/').at(-1) ?? form.get('QueueName') ?? undefined;
  }
  const action = `sqs:${SQS_ACTIONS[operation] ?? operation}`;
  return { operation, checks: [{ action, resource: `arn:aws:sqs:${region}:${account}:${queue ?? '*'}` }] };
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

      if (options.answerTagging && mapped.operation === 'PutObjectTagging') {
        for (const check of mapped.checks) calls.push({ function: options.function, operation: mapped.operation, action: check.action, resource: check.resource, context: {}, status: 200 });
        res.writeHead(200, { 'content-length': '0' });
        res.end();
        return;
      }
      const headers = { ...req.headers, ...mapped.headers, host: upstream.host };
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: mapped.path ?? req.url, headers },
        (upstreamRes) => {
          const status = upstreamRes.statusCode ?? 0;
          for (const check of mapped.checks) {
            calls.push({ function: options.function, operation: mapped.operation, action: check.action, resource: check.resource, context: check.context ?? {}, status });
          }
          if (status === 404 && mapped.bucketArn) {
            calls.push({
              function: options.function,
              operation: mapped.operation,
              action: 's3:ListBucket',
              resource: mapped.bucketArn,
              context: {},
              status,
              implied: 'S3 answers a missing key with 404 only to a caller that may s3:ListBucket; without it, 403',
            });
          }
          res.writeHead(status, upstreamRes.headers);
          upstreamRes.pipe(res);
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
