import { pgbouncerOrSkip } from '../helpers/pgbouncer.ts';
import { defineRestartRecoveryTest } from './restart-recovery-suite.ts';

if (pgbouncerOrSkip('a PostgreSQL restart through pgbouncer (transaction mode)')) defineRestartRecoveryTest('pgbouncer');
