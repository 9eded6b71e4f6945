// The installed package as a person meets it: sign in over https and request a role. The
// rule was made by the native-gRPC part of the walk (backend/server/tests/it/package.rs).
import { test, expect } from '@playwright/test';
import { Shell } from '../tests/shell-page.js';
import { RolesPage } from '../tests/roles-page.js';

const URL = process.env.JITROLES_PACKAGE_URL;

test('dave signs in over https to the installed package and gets a role', async ({ page }) => {
  expect(URL).toMatch(/^https:\/\//);
  await new Shell(page, URL).open('/roles', 'dave');
  const roles = new RolesPage(page);
  await roles.request('Package check', { justification: 'package walk' });
  await expect(roles.confirmation('Package check')).toContainText('Granted until');
  const cookies = await page.context().cookies(URL);
  expect(cookies.length).toBeGreaterThan(0);
  for (const cookie of cookies) expect(cookie.secure, cookie.name).toBe(true);
});
