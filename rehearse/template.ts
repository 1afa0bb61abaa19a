import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One CloudFormation resource as `cdk synth` writes it. */
export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export interface Assembly {
  dir: string;
  stackName: string;
  resources: Record<string, CfnResource>;
}

/** The stack artifact of a cloud assembly (`cdk synth -o DIR`): its template and asset folder. */
export function readAssembly(dir: string): Assembly {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const stacks = Object.entries(manifest.artifacts).filter(([, a]) => a.type === 'aws:cloudformation:stack');
  if (stacks.length !== 1) throw new Error(`expected one stack in ${dir}, found ${stacks.length}`);
  const [stackName, artifact] = stacks[0]!;
  const template = JSON.parse(readFileSync(join(dir, artifact.properties!.templateFile!), 'utf8')) as { Resources: Record<string, CfnResource> };
  return { dir, stackName, resources: template.Resources };
}

export const ofType = (assembly: Assembly, type: string) => Object.entries(assembly.resources).filter(([, r]) => r.Type === type);

/**
 * What the rehearsal knows about the physical resources: names in the emulator, the queue URL
 * base a function's calls go through (its recorder), the database endpoint.
 */
export interface Physical {
  region: string;
  account: string;
  bucketName(logicalId: string): string;
  queueName(logicalId: string): string;
  /** Queue URLs as one function sees them (through its recorder). */
  queueUrlBase: string;
  proxyEndpoint: string;
  proxyResourceId: string;
}

/**
 * Resolves the intrinsic functions CDK writes (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select,
 * Fn::Split) to the rehearsal's physical names.
 */
export function resolver(assembly: Assembly, physical: Physical) {
  const pseudo: Record<string, string> = {
    'AWS::Region': physical.region,
    'AWS::AccountId': physical.account,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': assembly.stackName,
  };
  const typeOf = (id: string) => {
    const resource = assembly.resources[id];
    if (!resource) throw new Error(`template: reference to unknown resource ${id}`);
    return resource.Type;
  };
  const ref = (id: string): string => {
    if (pseudo[id] !== undefined) return pseudo[id]!;
    switch (typeOf(id)) {
      case 'AWS::S3::Bucket':
        return physical.bucketName(id);
      case 'AWS::SQS::Queue':
        return `${physical.queueUrlBase}/${physical.account}/${physical.queueName(id)}`;
      case 'AWS::SNS::Topic':
        // A topic's Ref is its ARN.
        return `arn:aws:sns:${physical.region}:${physical.account}:${(assembly.resources[id]!.Properties?.TopicName as string | undefined) ?? id}`;
      case 'AWS::IAM::Role':
      case 'AWS::Lambda::Function':
      case 'AWS::Logs::LogGroup':
        return (assembly.resources[id]!.Properties?.FunctionName as string | undefined) ?? id;
      default:
        return id;
    }
  };
  const getAtt = (id: string, attr: string): string => {
    const type = typeOf(id);
    const { region, account } = physical;
    if (type === 'AWS::S3::Bucket' && attr === 'Arn') return `arn:aws:s3:::${physical.bucketName(id)}`;
    if (type === 'AWS::SQS::Queue' && attr === 'Arn') return `arn:aws:sqs:${region}:${account}:${physical.queueName(id)}`;
    if (type === 'AWS::SQS::Queue' && attr === 'QueueName') return physical.queueName(id);
    if (type === 'AWS::SQS::Queue' && attr === 'QueueUrl') return ref(id);
    if (type === 'AWS::IAM::Role' && attr === 'Arn') return `arn:aws:iam::${account}:role/${id}`;
    if (type === 'AWS::Logs::LogGroup' && attr === 'Arn') return `arn:aws:logs:${region}:${account}:log-group:${id}:*`;
    if (type === 'AWS::Lambda::Function' && attr === 'Arn') return `arn:aws:lambda:${region}:${account}:function:${ref(id)}`;
    if (type === 'AWS::SNS::Topic' && attr === 'TopicArn') return ref(id);
    if (type === 'AWS::KMS::Key' && attr === 'Arn') return `arn:aws:kms:${region}:${account}:key/${id}`;
    if (type === 'AWS::RDS::DBProxy' && attr === 'Endpoint') return physical.proxyEndpoint;
    if (type === 'AWS::RDS::DBProxy' && attr === 'DBProxyArn') return `arn:aws:rds:${region}:${account}:db-proxy:${physical.proxyResourceId}`;
    return `${id}.${attr}`;
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (!value || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0]!;
      switch (fn) {
        case 'Ref':
          return ref(arg as string);
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? (arg as string[]) : (arg as string).split('.');
          return getAtt(id!, attr!);
        }
        case 'Fn::Join': {
          const [sep, parts] = arg as [string, unknown[]];
          return (resolve(parts) as unknown[]).join(sep);
        }
        case 'Fn::Sub': {
          const [text, vars] = typeof arg === 'string' ? [arg, {}] : (arg as [string, Record<string, unknown>]);
          return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
            if (name in vars) return String(resolve(vars[name]));
            const [id, attr] = name.split('.');
            return attr ? getAtt(id!, attr) : ref(id!);
          });
        }
        case 'Fn::Select': {
          const [index, list] = arg as [number, unknown];
          return (resolve(list) as unknown[])[Number(index)];
        }
        case 'Fn::Split': {
          const [sep, text] = arg as [string, unknown];
          return String(resolve(text)).split(sep);
        }
        default:
          if (fn.startsWith('Fn::')) throw new Error(`template: ${fn} is not supported by the rehearsal`);
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };
  return resolve;
}
