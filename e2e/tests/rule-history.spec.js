// A rule's history as an admin reads it: an edit made in the editor is listed with what it
// changed, and restoring the first version saves it again as a new version, with its changes.
import { test, expect } from './fixtures.js';
import { RuleEditor } from './admin-pages.js';
import { aliceMakesRule } from './api-setup.js';

test('an edit is listed with what it changed, and restoring version 1 saves it again as version 3', async ({
  page,
  server,
}) => {
  const id = await aliceMakesRule(page, server, {
    name: 'History walk', group: 'jit-role-web', defaultSeconds: 600, maxSeconds: 3600,
  });
  await page.goto(`${server.url}/admin/rules/${id}`);
  await expect(page.getByTestId('target-group')).toHaveText('jit-role-web');
  await page.getByLabel('Description (shown to requesters)').fill('Deploys to the web farm');
  await new RuleEditor(page, server.url).save();
  await expect(page.getByRole('heading', { level: 1, name: 'Role rules' })).toBeVisible();

  await page.goto(`${server.url}/admin/rules/${id}`);
  await page.getByRole('link', { name: /^History/ }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Rule history' })).toBeVisible();
  const v2 = page.getByTestId('version-2');
  await expect(v2.getByRole('heading')).toHaveText('Version 2: rule updated');
  await expect(v2.locator('.rule-history__changes li')).toHaveText([/^description: ".*" → "Deploys to the web farm"$/]);
  await expect(page.getByTestId('version-1').getByRole('heading')).toHaveText('Version 1: rule created');
  await expect(v2.getByRole('button')).toHaveCount(0);

  await page.getByRole('button', { name: 'Restore version 1' }).click();
  await expect(page.getByRole('status')).toHaveText('Restored: the rule is now version 3.');
  const v3 = page.getByTestId('version-3');
  await expect(v3.getByRole('heading')).toHaveText('Version 3: rule restored');
  await expect(v3.locator('.rule-history__changes li')).toHaveText([/^description: "Deploys to the web farm" → ".*"$/]);
  await expect(v3.locator('.rule-history__meta')).toContainText('alice');
});
