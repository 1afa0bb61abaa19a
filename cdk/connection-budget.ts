/**
 * The database connections a deployment can open, against what the database accepts. Each
 * consumer or replay container holds one connection (shared/lambda/consumer-runtime.ts, `max: 1`),
 * so the functions' connections are at most their concurrency: the consumer's event source
 * maximum (by default the tables' partitions summed over the tables, one invocation per FIFO
 * message group), replay's, one for the deploy step's invocation of the consumer, and a few for
 * operators (`landfall status`, `replay`, `quarantine` through the proxy). RDS Proxy opens at
 * most `MaxConnectionsPercent` of the database's `max_connections`, and PostgreSQL keeps five of
 * them for superusers (RDS's 2 and PostgreSQL's 3): what is left is Landfall's.
 *
 * Pure arithmetic: the stack refuses (or warns) at synth, the docs print the table, and the
 * rehearsal checks the synthesised template against it.
 */

/** The deploy step invokes the consumer once, beside its event source's invocations. */
export const DEPLOY_STEP_CONNECTIONS = 1;
/** `landfall status`, `replay`, `quarantine retry` run by operators through the proxy. */
export const OPERATOR_CONNECTIONS = 2;
/** Connections PostgreSQL on RDS keeps for superusers: rds.rds_superuser_reserved_connections (2) + superuser_reserved_connections (3). */
export const SUPERUSER_RESERVED_CONNECTIONS = 5;
/** Above this share of what is available, synth warns even though it fits. */
export const TIGHT_SHARE = 0.8;

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const BURSTABLE = { micro: 1, small: 2, medium: 4, large: 8, xlarge: 16, '2xlarge': 32 } as const;
const GENERAL = { large: 8, xlarge: 16, '2xlarge': 32, '4xlarge': 64, '8xlarge': 128, '12xlarge': 192, '16xlarge': 256, '24xlarge': 384 } as const;

/** Memory (GiB) of the RDS instance classes Landfall knows, by class without the `db.` prefix. */
export function instanceMemoryGiB(instanceType: string): number | undefined {
  const [family = '', size = ''] = instanceType.split('.');
  if (/^t(3|4g)$/.test(family)) return (BURSTABLE as Record<string, number>)[size];
  const general = (GENERAL as Record<string, number>)[size];
  if (general === undefined) return undefined;
  if (/^m(5|6g|6i|7g|7i|8g)$/.test(family)) return general;
  if (/^r(5|6g|6i|7g|7i|8g)$/.test(family)) return general * 2;
  return undefined;
}

/**
 * RDS for PostgreSQL's default `max_connections`, LEAST({DBInstanceClassMemory/9531392}, 5000),
 * where DBInstanceClassMemory is the class's memory less what RDS keeps for the OS and its own
 * processes: modelled as max(350 MiB, 5%), which gives at most the values RDS reports (2 GiB:
 * 198, 4 GiB: 413, 8 GiB: 856) and about 74 for 1 GiB. An estimate: `SHOW max_connections` on
 * the database says the real value.
 */
export function defaultMaxConnections(memoryGiB: number): number {
  const memory = memoryGiB * GIB;
  const usable = memory - Math.max(350 * MIB, 0.05 * memory);
  return Math.max(0, Math.min(5000, Math.floor(usable / 9531392)));
}

/** Landfall's share of a database's connections through a proxy that may use `proxyPercent` of them. */
export function availableConnections(maxConnections: number, proxyPercent: number | undefined): number {
  const ordinary = maxConnections - SUPERUSER_RESERVED_CONNECTIONS;
  return Math.max(0, proxyPercent === undefined ? ordinary : Math.min(ordinary, Math.floor((maxConnections * proxyPercent) / 100)));
}

export interface ConnectionDemand {
  consumer: number;
  replay: number;
  deployStep: number;
  operators: number;
  total: number;
}

export function connectionDemand(consumerConcurrency: number, replayConcurrency: number): ConnectionDemand {
  const demand = { consumer: consumerConcurrency, replay: replayConcurrency, deployStep: DEPLOY_STEP_CONNECTIONS, operators: OPERATOR_CONNECTIONS };
  return { ...demand, total: demand.consumer + demand.replay + demand.deployStep + demand.operators };
}

export interface ConnectionBudget {
  demand: ConnectionDemand;
  /** Undefined when nothing says it (an existing database without `maxConnections`, an unknown class). */
  maxConnections: number | undefined;
  /** Where `maxConnections` comes from, for messages. */
  source: string;
  proxyPercent: number | undefined;
  available: number | undefined;
  verdict: 'fits' | 'tight' | 'exceeds' | 'unknown';
  /** The numbers and, unless it fits, what to change. */
  message: string;
}

const n = (value: number) => value.toLocaleString('en-US');

/**
 * The budget of a deployment. `maxConnections`: the database's (or what it grants Landfall);
 * else estimated from `instanceType`'s memory; `proxyPercent`: RDS Proxy's MaxConnectionsPercent
 * when Landfall reaches the database through a proxy the stack creates.
 */
export function connectionBudget(input: {
  consumerConcurrency: number;
  replayConcurrency: number;
  maxConnections?: number | undefined;
  /** Connections a database of the user's grants Landfall (existing mode): taken as they are. */
  granted?: number | undefined;
  instanceType?: string | undefined;
  proxyPercent?: number | undefined;
}): ConnectionBudget {
  const demand = connectionDemand(input.consumerConcurrency, input.replayConcurrency);
  const parts = `consumer ${n(demand.consumer)} (its event source's maximum concurrency: the tables' partitions summed, unless consumerMaxConcurrency says less), replay ${demand.replay}, the deploy step ${demand.deployStep}, operators ${demand.operators}`;
  const memory = input.instanceType ? instanceMemoryGiB(input.instanceType) : undefined;
  const maxConnections = input.granted ?? input.maxConnections ?? (memory !== undefined ? defaultMaxConnections(memory) : undefined);
  const source =
    input.granted !== undefined
      ? `the ${n(input.granted)} connections it grants Landfall (maxConnections)`
      : input.maxConnections !== undefined
      ? `max_connections ${n(input.maxConnections)} (maxConnections)`
      : memory !== undefined
        ? `max_connections about ${n(maxConnections!)} (RDS's default for db.${input.instanceType}, ${memory} GiB)`
        : 'max_connections unknown';
  const base = { demand, maxConnections, source, proxyPercent: input.proxyPercent };
  if (maxConnections === undefined) {
    const why = input.instanceType ? `db.${input.instanceType} is not a class Landfall knows the memory of` : 'the database is not the stack\'s';
    return {
      ...base,
      available: undefined,
      verdict: 'unknown',
      message: `connection budget: the functions may hold ${n(demand.total)} database connections (${parts}); ${why}, so nothing checks that it accepts them. Set maxConnections (-c landfall:dbMaxConnections=N) to what it accepts for Landfall.`,
    };
  }
  const available = input.granted ?? availableConnections(maxConnections, input.proxyPercent);
  const through =
    input.granted !== undefined
      ? ''
      : input.proxyPercent !== undefined
        ? ` through RDS Proxy (MaxConnectionsPercent ${input.proxyPercent}%, ${SUPERUSER_RESERVED_CONNECTIONS} kept for superusers)`
        : ` (${SUPERUSER_RESERVED_CONNECTIONS} kept for superusers)`;
  const head = `connection budget: the functions may hold ${n(demand.total)} database connections (${parts}); the database accepts ${n(available)} for them${through}, from ${source}`;
  if (demand.total > available) {
    const consumerRoom = available - demand.replay - demand.deployStep - demand.operators;
    const fixes = [
      consumerRoom >= 2 ? `cap the consumer at ${n(consumerRoom)} (consumerMaxConcurrency, -c landfall:consumerMaxConcurrency=${consumerRoom}) or give the tables fewer partitions in all` : undefined,
      'a larger instance class (docs/deploy.md lists connections per class)',
      input.maxConnections === undefined && input.granted === undefined ? 'maxConnections (-c landfall:dbMaxConnections=N) if the database is set to accept more' : undefined,
      'or connectionBudget "warn" (-c landfall:connectionBudget=warn) to deploy anyway: batches then wait for a connection (the proxy\'s 30 s borrow timeout) and are retried',
    ].filter(Boolean);
    return { ...base, available, verdict: 'exceeds', message: `${head}: ${n(demand.total - available)} too many. Fix: ${fixes.join('; ')}.` };
  }
  if (demand.total > TIGHT_SHARE * available) {
    return { ...base, available, verdict: 'tight', message: `${head}: it fits, with ${n(available - demand.total)} to spare; the CLI and other clients share them.` };
  }
  return { ...base, available, verdict: 'fits', message: `${head}: it fits.` };
}

