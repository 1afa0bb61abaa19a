import { readFileSync } from 'node:fs';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { AwsCall } from './recorder.ts';
import { type Assembly, ofType } from './template.ts';

type Statement = { Sid?: string; Effect: string; Action?: string | string[]; Resource?: string | string[]; Principal?: unknown; Condition?: unknown };
type PolicyDocument = { Version?: string; Statement: Statement[] };

export interface RolePolicies {
  function: string;
  roleId: string;
  policies: { name: string; policy: PolicyDocument }[];
}

export interface Verdict {
  call: AwsCall;
  result: string;
  /** For a call that is not allowed: what would have to change. */
  fix?: string;
}

export interface Grant {
  function: string;
  sid: string;
  action: string;
  resource: string;
}

export interface ReviewedGrant {
  /** A function kind, or `*` for all. */
  function: string;
  /** An action, `*` globs allowed. */
  action: string;
  /** A glob over the resolved resource ARN (`*` matches anything). */
  resource: string;
  decision: 'keep' | 'fixed by 11B';
  reason: string;
}

const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
const matches = (pattern: string, value: string) => glob(pattern).test(value);

export const BASIC_EXECUTION_POLICY = 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';

/** Each function's role policies (AWS::IAM::Policy resources attached to its role), resolved. */
export function rolePolicies(assembly: Assembly, resolve: (v: unknown) => unknown, functions: Record<string, string>): RolePolicies[] {
  return Object.entries(functions).map(([kind, functionId]) => {
    const role = (assembly.resources[functionId]!.Properties!.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const policies = ofType(assembly, 'AWS::IAM::Policy')
      .filter(([, p]) => list(p.Properties!.Roles as unknown[]).some((r) => (r as { Ref?: string }).Ref === role))
      .map(([id, p]) => ({ name: id, policy: resolve(p.Properties!.PolicyDocument) as PolicyDocument }));
    const inline = list(assembly.resources[role]!.Properties?.Policies as { PolicyName: string; PolicyDocument: unknown }[] | undefined);
    for (const p of inline) policies.push({ name: p.PolicyName, policy: resolve(p.PolicyDocument) as PolicyDocument });
    const managed = list(assembly.resources[role]!.Properties?.ManagedPolicyArns as unknown[] | undefined).map((arn) => String(resolve(arn)));
    // aws-cdk-lib's custom-resource function (the deploy step) carries Lambda's basic execution
    // policy: log permissions only, which Lambda's service uses and the code never calls.
    if (managed.some((arn) => arn !== BASIC_EXECUTION_POLICY)) throw new Error(`role ${role} has managed policies; the rehearsal cannot evaluate them`);
    return { function: kind, roleId: role, policies };
  });
}

/**
 * Resource policies by the ARN they protect: bucket policies (bucket and its objects), queue
 * policies, topic policies and key policies (the alarm topic and its KMS key).
 */
export function resourcePolicies(assembly: Assembly, resolve: (v: unknown) => unknown): (arn: string) => PolicyDocument | undefined {
  const byArn = new Map<string, PolicyDocument>();
  for (const [, p] of ofType(assembly, 'AWS::S3::BucketPolicy')) byArn.set(`arn:aws:s3:::${resolve(p.Properties!.Bucket) as string}`, resolve(p.Properties!.PolicyDocument) as PolicyDocument);
  for (const [, p] of ofType(assembly, 'AWS::SQS::QueuePolicy')) {
    for (const queue of list(p.Properties!.Queues as unknown[])) {
      const url = resolve(queue) as string;
      const [account, name] = url.split('/').slice(-2);
      byArn.set(`ARN-OF:${account}:${name}`, resolve(p.Properties!.PolicyDocument) as PolicyDocument);
    }
  }
  for (const [, p] of ofType(assembly, 'AWS::SNS::TopicPolicy')) {
    for (const topic of list(p.Properties!.Topics as unknown[])) byArn.set(resolve(topic) as string, resolve(p.Properties!.PolicyDocument) as PolicyDocument);
  }
  for (const [id, k] of ofType(assembly, 'AWS::KMS::Key')) {
    if (k.Properties?.KeyPolicy) byArn.set(resolve({ 'Fn::GetAtt': [id, 'Arn'] }) as string, resolve(k.Properties.KeyPolicy) as PolicyDocument);
  }
  return (arn) => {
    if (arn.startsWith('arn:aws:sns:') || arn.startsWith('arn:aws:kms:')) return byArn.get(arn);
    if (arn.startsWith('arn:aws:s3:::')) return byArn.get(arn.split('/')[0]!);
    const sqs = /^arn:aws:sqs:[^:]+:([^:]+):(.+)$/.exec(arn);
    if (sqs) return byArn.get(`ARN-OF:${sqs[1]}:${sqs[2]}`);
    return undefined;
  };
}

/**
 * Evaluates every recorded call against its function's role policies and the resource policy
 * of its target with @cloud-copilot/iam-simulate. Requests are evaluated as AWS would receive
 * them from Lambda: over TLS (`aws:SecureTransport` true: the SDK speaks HTTPS to AWS; only the
 * emulator is plain HTTP) from the role's session.
 */
export async function evaluateCalls(calls: readonly AwsCall[], roles: readonly RolePolicies[], resourcePolicyOf: (arn: string) => PolicyDocument | undefined, account: string): Promise<Verdict[]> {
  const verdicts: Verdict[] = [];
  const cache = new Map<string, Verdict>();
  for (const call of calls) {
    const key = JSON.stringify([call.function, call.action, call.resource, call.context]);
    const known = cache.get(key);
    if (known) {
      verdicts.push({ ...known, call });
      continue;
    }
    const resourcePolicy = resourcePolicyOf(call.resource);
    if (call.servicePrincipal) {
      verdicts.push(await evaluateServiceCall(call, resourcePolicy, account));
      continue;
    }
    const role = roles.find((r) => r.function === call.function);
    if (!role) throw new Error(`no role for function ${call.function}`);
    const response = await runSimulation(
      {
        request: {
          principal: `arn:aws:sts::${account}:assumed-role/${role.roleId}/${call.function}`,
          action: call.action,
          resource: { resource: call.resource, accountId: account },
          contextVariables: { 'aws:SecureTransport': 'true', ...call.context },
        },
        identityPolicies: role.policies,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(resourcePolicy ? { resourcePolicy } : {}),
      },
      {},
    );
    const result = response.resultType === 'error' ? `SimulationError ${JSON.stringify(response.errors)}` : response.overallResult;
    const verdict: Verdict = { call, result };
    if (result !== 'Allowed') verdict.fix = fixFor(call, role);
    cache.set(key, verdict);
    verdicts.push(verdict);
  }
  return verdicts;
}

/** A call by a service principal (S3 sending a notification to a queue): the resource policy alone decides. */
async function evaluateServiceCall(call: AwsCall, resourcePolicy: PolicyDocument | undefined, account: string): Promise<Verdict> {
  const response = await runSimulation(
    {
      request: {
        principal: call.servicePrincipal!,
        action: call.action,
        resource: { resource: call.resource, accountId: account },
        contextVariables: { 'aws:SecureTransport': 'true', ...call.context },
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    },
    {},
  );
  const result = response.resultType === 'error' ? `SimulationError ${JSON.stringify(response.errors)}` : response.overallResult;
  const policy = call.resource.startsWith('arn:aws:kms:') ? 'key policy' : call.resource.startsWith('arn:aws:sns:') ? 'topic policy' : 'policy';
  return { call, result, ...(result === 'Allowed' ? {} : { fix: `the ${policy} of ${call.resource} must allow ${call.servicePrincipal} to ${call.action} (with aws:SourceArn ${call.context['aws:SourceArn']})` }) };
}

function fixFor(call: AwsCall, role: RolePolicies): string {
  const withAction = role.policies.flatMap((p) =>
    p.policy.Statement.filter((s) => s.Effect === 'Allow' && list(s.Action).some((a) => matches(a, call.action))).map((s) => `${s.Sid ?? '(no Sid)'} in ${p.name} on ${list(s.Resource).join(', ')}`),
  );
  const add = `add a statement to the ${role.roleId} policy granting ${call.action} on ${call.resource} (or a prefix of it)`;
  return withAction.length > 0 ? `${add}, or widen one that grants it elsewhere: ${withAction.join('; ')}` : add;
}

/** Every (function, action, resource) the role policies allow. */
export function grantsOf(roles: readonly RolePolicies[]): Grant[] {
  return roles.flatMap((r) =>
    r.policies.flatMap((p) =>
      p.policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) =>
        list(s.Action).flatMap((action) => list(s.Resource).map((resource) => ({ function: r.function, sid: s.Sid ?? '(no Sid)', action, resource }))),
      ),
    ),
  );
}

/** The grants no allowed call used. */
export function unusedGrants(grants: readonly Grant[], verdicts: readonly Verdict[]): Grant[] {
  const allowed = verdicts.filter((v) => v.result === 'Allowed').map((v) => v.call);
  return grants.filter((g) => !allowed.some((c) => c.function === g.function && matches(g.action, c.action) && matches(g.resource, c.resource)));
}

export function readReviewedGrants(path: string): ReviewedGrant[] {
  return (JSON.parse(readFileSync(path, 'utf8')) as { grants: ReviewedGrant[] }).grants;
}

/** The reviewed entry that explains an unused grant, if any. */
export function reviewOf(grant: Grant, reviewed: readonly ReviewedGrant[]): ReviewedGrant | undefined {
  return reviewed.find((r) => (r.function === '*' || r.function === grant.function) && matches(r.action, grant.action) && matches(r.resource, grant.resource));
}
