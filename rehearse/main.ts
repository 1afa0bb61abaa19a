import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { PROJECT_ROOT } from '../cdk/landfall-stack.ts';
import { checkAlarmDelivery } from './alarm-delivery.ts';
import { continuationScenarios } from './continuation-scenarios.ts';
import { checkConnectionBudget } from './connection-check.ts';
import { peakContainersOf, resetContainerPeaks } from './lambda.ts';
import { type Certificates, makeCertificates, PROXY_HOST, startTlsPostgres, type TlsPostgres } from './database.ts';
import { evaluateCalls, grantsOf, readReviewedGrants, reviewOf, unusedGrants as unusedGrants_ } from './iam.ts';
import { checkObservability } from './observability.ts';
import { isErrorLine, REHEARSAL_TABLES, runScenarios, SCHEMA, SECRET_MARK, TABLE_CONFIG } from './scenarios.ts';
import { REGION, startRehearsalStack } from './stack.ts';
import { readAssembly } from './template.ts';

/** The database modes the rehearsal synthesises: context keys, and the database the functions log in to. */
const MODES = [
  { name: 'new database (RDS Proxy, IAM)', context: {}, database: 'landfall', user: 'landfall', resourceId: 'prx-rehearsal' },
  {
    name: 'existing database with IAM',
    context: {
      'landfall:database': 'existing',
      'landfall:dbHost': PROXY_HOST,
      'landfall:dbName': 'app',
      'landfall:dbUser': 'landfall_app',
      'landfall:dbIamResourceId': 'prx-0123456789abcdef0',
      'landfall:vpcId': 'vpc-0a1b2c3d',
      'landfall:availabilityZones': 'us-east-1a,us-east-1b',
      'landfall:subnetIds': 'subnet-0aaa1111,subnet-0bbb2222',
      'landfall:securityGroupId': 'sg-0ccc3333',
    },
    database: 'app',
    user: 'landfall_app',
    resourceId: 'prx-0123456789abcdef0',
  },
] as const;

export const REVIEWED_GRANTS = join(PROJECT_ROOT, 'rehearse/grants-reviewed.json');

export interface ModeSummary {
  mode: string;
  scenarios: { name: string; ok: boolean }[];
  callsChecked: number;
  denied: string[];
  unusedGrants: { grant: string; review: string | null }[];
  observability: string[];
  logProblems: string[];
  /** Alarms whose notification the topic or key policy refuses (CloudWatch → SNS → KMS, evaluated). */
  alarmDelivery: { alarms: number; deliveries: number; problems: string[] };
  /** The template's connection budget, and the sessions each function held against its containers. */
  connections: { summary: string; problems: string[] };
  /** Lambda's recursive loop detection as simulated: the longest chain per function, and the records it dropped. */
  loops: Record<string, { maxHops: number; dropped: number; recursiveLoop: string }>;
}

function synth(outdir: string, configPath: string, context: Record<string, string>) {
  const args = ['synth', '--no-lookups', '-q', '-o', outdir, '-c', `landfall:config=${configPath}`, ...Object.entries(context).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const bin = join(PROJECT_ROOT, 'node_modules/.bin');
  const result = spawnSync(join(bin, 'cdk'), args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`cdk synth failed:\n${result.stderr}\n${result.stdout}`);
}

async function prepareDatabase(database: TlsPostgres, certs: Certificates, name: string, user: string): Promise<postgres.Sql> {
  await database.admin.unsafe(`CREATE ROLE "${user}" LOGIN`);
  await database.admin.unsafe(`CREATE DATABASE "${name}" OWNER "${user}"`);
  const sql = postgres({ host: '127.0.0.1', port: database.port, database: name, username: 'postgres', ssl: { ca: readFileSync(certs.caFile, 'utf8'), rejectUnauthorized: true }, max: 2, onnotice: () => {} });
  await sql.unsafe(SCHEMA);
  for (const table of REHEARSAL_TABLES) await sql.unsafe(`ALTER TABLE ${table} OWNER TO "${user}"`);
  return sql;
}

async function rehearseMode(mode: (typeof MODES)[number], certs: Certificates, database: TlsPostgres, log: (line: string) => void): Promise<ModeSummary> {
  const work = mkdtempSync(join(tmpdir(), 'landfall-rehearse-'));
  const configPath = join(work, 'landfall.json');
  writeFileSync(configPath, JSON.stringify(TABLE_CONFIG));
  const outdir = join(work, 'cdk.out');
  log(`\n${mode.name}: synthesising`);
  const started = Date.now();
  synth(outdir, configPath, mode.context);
  const assembly = readAssembly(outdir);
  log(`  synthesised in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.keys(assembly.resources).length} resources`);
  const sql = await prepareDatabase(database, certs, mode.database, mode.user);
  resetContainerPeaks();
  const stack = await startRehearsalStack({ assembly, certs, database, iamResourceId: mode.resourceId, ...(process.env.AWS_ENDPOINT_URL ? { awsEndpointUrl: process.env.AWS_ENDPOINT_URL } : {}) });
  try {
    const scenarios = await runScenarios(stack, sql, log, [continuationScenarios]);
    if (process.env.REHEARSE_VERBOSE) for (const l of stack.logs) log(`    [${l.function}] ${l.text}`);

    // --- IAM: every recorded call and every database login, against the template's policies ----
    const { roles, resourcePolicyOf, resolve } = stack.iam;
    const calls = [...stack.serviceCalls, ...stack.deployCalls, ...Object.values(stack.functions).flatMap((f) => f.recorder.calls), ...(stack.proxy?.connects ?? []).map((c) => ({ ...c, operation: 'connect', context: {}, status: 200 }))];
    const verdicts = await evaluateCalls(calls, roles, resourcePolicyOf, stack.account);
    const denied = [...new Set(verdicts.filter((v) => v.result !== 'Allowed').map((v) => `${v.call.function}: ${v.call.action} on ${v.call.resource} (${v.call.operation}${v.call.implied ? `; ${v.call.implied}` : ''}) is ${v.result}: ${v.fix}`))];
    const reviewed = readReviewedGrants(REVIEWED_GRANTS);
    const unusedGrants = unusedGrants_(grantsOf(roles), verdicts).map((g) => {
      const review = reviewOf(g, reviewed);
      return { grant: `${g.function}: ${g.action} on ${g.resource} (${g.sid})`, review: review ? `${review.decision}: ${review.reason}` : null };
    });

    // --- Alarms reach the topic: CloudWatch's sns:Publish and kms:GenerateDataKey, evaluated ---------
    const delivery = await checkAlarmDelivery(assembly, resolve, resourcePolicyOf, stack.account, REGION);
    const alarmDelivery = { alarms: delivery.alarms, deliveries: delivery.verdicts.length, problems: delivery.problems };

    // --- The connection budget: the template's numbers, and one session per container observed ---------
    const budget = checkConnectionBudget(assembly, stack.eventSources, { sessions: stack.proxy?.sessions ?? {}, containers: peakContainersOf });
    const observed = Object.entries(budget.observed).map(([fn, o]) => `${fn} ${o.sessions} sessions/${o.containers} containers`).join(', ');
    const connections = {
      summary: `${budget.budget ? `${budget.budget.verdict}: ${budget.budget.demand.total} connections at most against ${budget.budget.available} available` : 'no database of the stack\'s own to size (synth warned)'}; at most at once: ${observed || 'no sessions'}`,
      problems: budget.problems,
    };

    // --- Observability and logs ---------------------------------------------------------------
    const observability = checkObservability(assembly, resolve, stack.logs);
    const logProblems: string[] = [];
    for (const line of stack.logs) {
      if (line.text.includes(SECRET_MARK)) logProblems.push(`${line.function} logged a row value: ${line.text.slice(0, 200)}`);
      if (!line.text.trim().startsWith('{')) logProblems.push(`${line.function} logged an unstructured line: ${line.text.slice(0, 200)}`);
    }
    if (!stack.logs.some((l) => l.function === 'consumer' && isErrorLine(l)) && !stack.logs.some((l) => l.function === 'replay' && isErrorLine(l))) {
      logProblems.push('no failure was logged as a structured error line');
    }
    // A login the proxy refused is a failure; a client that gave up mid-handshake (the untrusting
    // consumer of the TLS check, possibly after its scenario) is not.
    if (stack.proxy) logProblems.push(...stack.proxy.refusals.filter((r) => /IAM authentication failed|without TLS/.test(r)).map((r) => `database proxy: ${r}`));

    return { mode: mode.name, scenarios: scenarios.map((s) => ({ name: s.name, ok: s.ok })), callsChecked: verdicts.length, denied, unusedGrants, observability, logProblems, alarmDelivery, connections, loops: { ...stack.loops } };
  } finally {
    await stack.stop();
    await sql.end({ timeout: 5 }).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}

/** Runs every mode; prints a summary; returns whether everything passed. */
export async function rehearse(log: (line: string) => void = (line) => console.log(line)): Promise<{ ok: boolean; summaries: ModeSummary[] }> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) throw new Error(`the rehearsal runs the bundles on Node 24 as Lambda's nodejs24.x does; this is Node ${process.versions.node} (use npm run rehearse)`);
  const certs = makeCertificates();
  const database = await startTlsPostgres(certs);
  const summaries: ModeSummary[] = [];
  try {
    const only = process.env.REHEARSE_MODE;
    for (const mode of MODES) {
      if (only && !mode.name.startsWith(only)) continue;
      summaries.push(await rehearseMode(mode, certs, database, log));
    }
  } finally {
    await database.stop();
    rmSync(certs.dir, { recursive: true, force: true });
  }
  let ok = true;
  log('\nRehearsal summary');
  for (const s of summaries) {
    const passed = s.scenarios.filter((x) => x.ok).length;
    const unexplained = s.unusedGrants.filter((g) => !g.review);
    log(`  ${s.mode}: scenarios ${passed}/${s.scenarios.length} passed, calls checked ${s.callsChecked}, calls denied ${s.denied.length}, unused grants ${s.unusedGrants.length} (${unexplained.length} unexplained)`);
    for (const d of s.denied) log(`    DENIED ${d}`);
    // Reviewed ones only on request (REHEARSE_VERBOSE=1): the list file says the same.
    for (const g of s.unusedGrants) if (!g.review || process.env.REHEARSE_VERBOSE) log(`    unused ${g.grant}: ${g.review ?? 'NOT IN rehearse/grants-reviewed.json (remove the grant, or add it there with a reason)'}`);
    log(`    alarm delivery: ${s.alarmDelivery.alarms} alarms, ${s.alarmDelivery.deliveries} CloudWatch → SNS → KMS calls evaluated, ${s.alarmDelivery.problems.length} refused`);
    for (const a of s.alarmDelivery.problems) log(`    ALARM DELIVERY ${a}`);
    log(`    connection budget: ${s.connections.summary}`);
    for (const c of s.connections.problems) log(`    CONNECTIONS ${c}`);
    log(`    loop detection: ${Object.entries(s.loops).map(([fn, l]) => `${fn} ${l.maxHops} hops at most, ${l.dropped} dropped (RecursiveLoop ${l.recursiveLoop})`).join('; ')}`);
    for (const o of s.observability) log(`    OBSERVABILITY ${o}`);
    for (const l of s.logProblems) log(`    LOGS ${l}`);
    if (passed !== s.scenarios.length || s.denied.length > 0 || unexplained.length > 0 || s.observability.length > 0 || s.logProblems.length > 0 || s.alarmDelivery.problems.length > 0 || s.connections.problems.length > 0) ok = false;
  }
  log(ok ? 'Rehearsal passed.' : 'Rehearsal FAILED.');
  return { ok, summaries };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  rehearse()
    .then(({ ok }) => process.exit(ok ? 0 : 1))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
