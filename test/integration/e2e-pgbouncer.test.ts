import { pgbouncerOrSkip } from '../helpers/pgbouncer.ts';
import { defineE2eSuite } from './e2e-suite.ts';

// The same end-to-end suite with every connection of the stack and the CLI through pgbouncer in
// transaction mode (the RDS Proxy stand-in): no session state may survive a transaction.
if (pgbouncerOrSkip('e2e through pgbouncer (transaction mode)')) await defineE2eSuite('pgbouncer');
