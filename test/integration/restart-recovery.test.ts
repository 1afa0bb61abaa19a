import { defineRestartRecoveryTest } from './restart-recovery-suite.ts';

defineRestartRecoveryTest('direct');
