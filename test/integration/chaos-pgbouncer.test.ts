import { pgbouncerOrSkip } from '../helpers/pgbouncer.ts';
import { defineChaosTest } from './chaos-suite.ts';

if (pgbouncerOrSkip('chaos through pgbouncer (transaction mode)')) defineChaosTest('pgbouncer');
