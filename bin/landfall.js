#!/usr/bin/env node
// Runs the TypeScript CLI directly: tsx compiles cli/*.ts on the fly, so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv);
