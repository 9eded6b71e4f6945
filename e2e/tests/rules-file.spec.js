// Rules as code in the browser: a pasted file is planned (nothing written), applied, and
// exported again with its group and principals by name and SID; a bad file says where.
import { test, expect } from './fixtures.js';
import { Shell } from './shell-page.js';

const FILE = `rules:
- name: Browser file rule
  group: {name: jit-role-web}
  acl:
  - {effect: allow, kind: group, name: dba-oncall}
  max_duration: 1h
`;

test('a pasted rules file is planned, applied and exported again by name and SID', async ({ page, server }) => {
  await new Shell(page, server.url).open('/admin/rules', 'alice');
  await page.getByRole('link', { name: 'Export or import rules' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Rules as code' })).toBeVisible();

  const apply = page.getByRole('button', { name: 'Apply the plan' });
  await expect(apply).toBeDisabled();
  await page.getByLabel('Rules file (YAML)').fill(FILE.replace('max_duration', 'max_duraton'));
  await page.getByRole('button', { name: 'Plan', exact: true }).click();
  await expect(page.locator('.failure')).toContainText('line 6, column 3: unknown field `max_duraton`');
  await expect(apply).toBeDisabled();

  await page.getByLabel('Rules file (YAML)').fill(FILE);
  await page.getByRole('button', { name: 'Plan', exact: true }).click();
  await expect(page.getByTestId('plan-summary')).toHaveText('1 to create, 0 to change, 0 to delete, 0 unchanged, 0 kept');
  await expect(page.locator('.rules-file__steps li')).toHaveText([/^\+ "Browser file rule": create, group jit-role-web \(S-1-5-21-[\d-]+\)$/]);
  await apply.click();
  await expect(page.getByRole('heading', { level: 2, name: 'Applied' })).toBeVisible();
  await expect(apply).toBeDisabled();

  await page.getByRole('button', { name: 'Export rules' }).click();
  const exported = page.getByTestId('exported-rules');
  await expect(exported).toContainText('name: Browser file rule');
  await expect(exported).toContainText(/name: dba-oncall\s+sid: S-1-5-21-/);
  await expect(page.getByRole('link', { name: 'Download jitroles-rules.yaml' })).toHaveAttribute('download', 'jitroles-rules.yaml');
});
