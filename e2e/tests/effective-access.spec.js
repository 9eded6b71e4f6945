// Effective access in the admin app: the rule page's section lists who the rule admits with
// the path that admits each (dave through dba-team ⊂ dba-oncall), and the person lookup says
// what a person may request and why, and what refuses them.
//
// The rule allows dba-oncall (the test population: dave ∈ dba-team ∈ dba-oncall, svc-ci ∈
// dba-oncall, erin ∈ dba-team but disabled).
import { test, expect } from './fixtures.js';
import { aliceMakesRule } from './api-setup.js';

test('the rule page lists who the rule admits, with paths, and the lookup explains a person', async ({ page, server }) => {
  const id = await aliceMakesRule(page, server, {
    name: 'Effective DBA', group: 'jit-role-web', defaultSeconds: 600, maxSeconds: 3600,
  });
  await page.goto(`${server.url}/admin/rules/${id}`);
  const section = page.getByRole('region', { name: 'Effective access' });
  await expect(section.getByRole('status')).toHaveText(
    /^2 people may request this role now \(1 left out: 1 disabled, 0 refused by a deny entry\)\./,
  );
  const people = section.getByRole('table', { name: 'People who may request this role' });
  await expect(people.getByRole('row', { name: /dave/ })).toContainText('dave ← dba-team ← dba-oncall');
  await expect(people.getByRole('row', { name: /svc-ci/ })).toContainText('svc-ci ← dba-oncall');
  await expect(people.getByRole('row', { name: /erin/ })).toHaveCount(0);

  // searched by a group on the path
  await section.getByLabel('Search people or groups').fill('dba-team');
  await section.getByRole('button', { name: 'Search' }).click();
  await expect(people.getByRole('row')).toHaveCount(2); // the header and dave
  await expect(people.getByRole('row', { name: /dave/ })).toBeVisible();

  // from a person in the list to what every rule says about them
  await people.getByRole('link', { name: 'dave' }).click();
  await expect(page).toHaveURL(/\/admin\/access\?person=dave$/);
  const allowed = page.getByRole('table', { name: 'May request' });
  await expect(allowed.getByRole('row', { name: /Effective DBA/ }))
    .toContainText('allowed by dba-oncall (dave ← dba-team ← dba-oncall)');

  // a disabled account: refused, saying why
  await page.getByLabel('Person (account name, user principal name or SID)').fill('erin');
  await page.getByRole('button', { name: 'Look up' }).click();
  await expect(page).toHaveURL(/person=erin$/);
  const refused = page.getByRole('table', { name: 'Refused' });
  await expect(refused.getByRole('row', { name: /Effective DBA/ }))
    .toContainText('the directory account erin is disabled');
  await expect(page.getByText('No rule.', { exact: true })).toBeVisible();
});
