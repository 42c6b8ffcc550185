// Marks dist/esm as ES modules and dist/cjs as CommonJS, so that Node
// loads each build with the right module system whatever the package's type.
import { writeFileSync } from 'node:fs';

writeFileSync(new URL('../dist/esm/package.json', import.meta.url), '{ "type": "module" }\n');
writeFileSync(new URL('../dist/cjs/package.json', import.meta.url), '{ "type": "commonjs" }\n');
