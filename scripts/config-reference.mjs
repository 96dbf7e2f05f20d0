// Rewrites docs/configuration.md from the config schema (src/config/reference.ts); run after a build:
//   npm run docs:config
import { writeFileSync } from 'node:fs';
import { renderConfigReference } from '../dist/src/config/reference.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigReference());
console.log('docs/configuration.md written');
