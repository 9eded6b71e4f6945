// The installed Debian package over https (scripts/package-test starts it and sets
// JITROLES_PACKAGE_URL and JITROLES_PACKAGE_SPKI). Not part of the main e2e run.
import { defineConfig } from '@playwright/test';
import base from './playwright.config.js';

const spki = process.env.JITROLES_PACKAGE_SPKI;
if (!spki) throw new Error('JITROLES_PACKAGE_SPKI is not set: run by scripts/package-test');

export default defineConfig({
  ...base,
  testDir: './package',
  outputDir: 'test-results/package',
  reporter: [['list']],
  use: {
    ...base.use,
    launchOptions: {
      ...base.use.launchOptions,
      // trust exactly the test certificate's key: Chromium still checks everything else of TLS
      args: [...base.use.launchOptions.args, `--ignore-certificate-errors-spki-list=${spki}`],
    },
  },
});
