import { defineE2eSuite } from './e2e-suite.ts';

await defineE2eSuite('direct');
