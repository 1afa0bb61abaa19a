import { pgbouncerOrSkip } from '../helpers/pgbouncer.ts';
import { defineSlowDatabaseTest } from './slow-database-suite.ts';

// The same slow database with every connection of the stack through pgbouncer in transaction
// mode (the RDS Proxy stand-in): the statement timeout is SET LOCAL, so it holds behind a pooler.
if (pgbouncerOrSkip('a slow database through pgbouncer (transaction mode)')) await defineSlowDatabaseTest('pgbouncer');
