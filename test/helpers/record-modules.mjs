// `node --import ./test/helpers/record-modules.mjs …`: writes every module URL the process
// resolves, one a line, to $LANDFALL_RECORD_MODULES when it exits. The launch test uses it to
// see that `landfall` loads no TypeScript and no transpiler.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env.LANDFALL_RECORD_MODULES;
const urls = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    urls.push(resolved.url);
    return resolved;
  },
});
process.on('exit', () => writeFileSync(out, `${urls.join('\n')}\n`));
