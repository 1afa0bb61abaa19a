/**
 * Every environment variable Landfall reads, named once. The CDK stack sets them with these
 * names and the functions read them with these names, so the two cannot drift apart.
 */
export const EnvVar = {
  /** Path of the table config JSON file (bundled beside the function in AWS). */
  config: 'LANDFALL_CONFIG',
  /** Inline table config JSON (alternative to a path; the CDK stack uses this). */
  configJson: 'LANDFALL_CONFIG_JSON',
  databaseUrl: 'DATABASE_URL',
  /** RDS Proxy (or database) endpoint for IAM auth; when set, a token replaces the password. */
  dbHost: 'LANDFALL_DB_HOST',
  dbPort: 'LANDFALL_DB_PORT',
  dbName: 'LANDFALL_DB_NAME',
  dbUser: 'LANDFALL_DB_USER',
  /**
   * Secrets Manager secret (ARN) with the database credentials, when an existing database is
   * reached with a password instead of IAM: RDS's JSON (`username`, `password`, `host`, `port`,
   * `dbname`) or a plain `postgres://` URL. LANDFALL_DB_* settings take precedence over its fields.
   */
  dbSecretArn: 'LANDFALL_DB_SECRET_ARN',
  stagingBucket: 'LANDFALL_STAGING_BUCKET',
  batchesQueueUrl: 'LANDFALL_BATCHES_QUEUE_URL',
  /** The producer sends continuations of files too large for one invocation here. */
  intakeQueueUrl: 'LANDFALL_INTAKE_QUEUE_URL',
  dlqUrl: 'LANDFALL_DLQ_URL',
  /**
   * The queue whose event source drives the function (the consumer's batches queue, replay's
   * DLQ): the function makes its own failed records visible again there after a short backoff
   * (`sqs:ChangeMessageVisibility` on that queue only).
   */
  sourceQueueUrl: 'LANDFALL_SOURCE_QUEUE_URL',
  /**
   * The producer's limits, a JSON object of ProducerLimits fields (shared/producer/producer-contract.ts):
   * the stack sets `{"maxInvocationsPerFile":N}`; the deploy rehearsal sets small segments too.
   * Fields left out keep their defaults.
   */
  producerLimits: 'LANDFALL_PRODUCER_LIMITS',
  /** The parking queue, for `landfall replay` (deletes the parked message of a batch it applied). */
  parkingQueueUrl: 'LANDFALL_PARKING_QUEUE_URL',
  awsRegion: 'AWS_REGION',
  awsEndpointUrl: 'AWS_ENDPOINT_URL',
  /** The CLI's local state folder (`landfall dev`'s database and emulator state), default `.landfall`. */
  home: 'LANDFALL_HOME',
  /** Read by Powertools itself (logger, metrics); set by the stack. */
  powertoolsServiceName: 'POWERTOOLS_SERVICE_NAME',
  powertoolsLogLevel: 'POWERTOOLS_LOG_LEVEL',
  powertoolsMetricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;

export type EnvVarName = (typeof EnvVar)[keyof typeof EnvVar];

/**
 * A variable a function or command needs is missing or unusable (classified `config`: a person
 * must set it). The message names every variable; `variables` lists them, an entry `A or B`
 * when either would do.
 */
export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
  readonly variables: string[];
  constructor(message: string, variables: string[], options?: ErrorOptions) {
    super(message, options);
    this.variables = variables;
  }
}
