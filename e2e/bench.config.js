// Browser benchmarks (not tests): `npx playwright test -c bench.config.js`. Same browser setup
// as the tests; results go to stdout and docs/benchmarks.md.
import base from './playwright.config.js';

export default { ...base, testDir: './bench', testMatch: '**/*.bench.js', timeout: 300_000, reporter: [['list']] };
