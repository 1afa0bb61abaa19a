import { defineChaosTest } from './chaos-suite.ts';

defineChaosTest('direct');
