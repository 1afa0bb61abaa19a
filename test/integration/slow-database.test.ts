import { defineSlowDatabaseTest } from './slow-database-suite.ts';

await defineSlowDatabaseTest('direct');
