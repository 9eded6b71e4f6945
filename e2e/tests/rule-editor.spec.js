// The rule editor's warnings and settings as a requester then meets them: a protected target
// group, a group the service account cannot write, a deny entry that refuses dave although a
// group he is in is allowed, a rule that asks no justification; and an admin making a rule by
// keyboard alone with the focus visible at every step.
//
// Groups of the test population (scripts/ad): jit-svc may write `member` only in OU=JIT Roles,
// so jit-role-web is writable and dba-oncall (CN=Users) is not; Domain Admins is provisioned
// with adminCount=1, the protected group.
import { test, expect } from './fixtures.js';
import { RuleEditor, WEB_DEPLOY } from './admin-pages.js';
import { aliceMakesRule, requestThroughApi } from './api-setup.js';
import { isMember, removeMember } from './directory.js';
import { tabTo } from './keyboard.js';
import { RolesPage } from './roles-page.js';
import { Shell } from './shell-page.js';

const PERMISSION_DENIED = '7';

test('picking a protected group warns that AdminSDHolder resets its permissions', async ({ page, server }) => {
  await new Shell(page, server.url).open('/admin/rules/new', 'alice');
  const editor = new RuleEditor(page, server.url);
  await expect(page.getByRole('heading', { level: 1, name: 'New rule' })).toBeVisible();

  // a group that is not protected: no warning
  await editor.pick('Find the target group', 'jit-role-web', 'jit-role-web (group jit-role-web)');
  await expect(page.getByTestId('target-group')).toHaveText('jit-role-web');
  await expect(editor.groupWarning()).toHaveCount(0);

  await page.getByLabel('Find the target group').fill('Domain Admins');
  await page.getByLabel('Find the target group').press('Enter');
  const pick = page.getByRole('button', { name: 'Pick Domain Admins (group Domain Admins)' });
  // the match itself says so before it is picked
  await expect(page.locator('.directory-picker__results li').filter({ has: pick }))
    .toContainText('protected group (AdminSDHolder)');
  await pick.click();
  await expect(page.getByTestId('target-group')).toHaveText('Domain Admins');
  await expect(editor.groupWarning()).toHaveText(/This is a protected group: AdminSDHolder resets its permissions/);
});

test('a rule on a group the service account cannot write warns in the editor; a writable one does not', async ({
  page,
  server,
}) => {
  const unwritable = await aliceMakesRule(page, server, {
    name: 'On-call rota', group: 'dba-oncall', defaultSeconds: 600, maxSeconds: 3600,
  });
  const writable = await aliceMakesRule(page, server, {
    name: 'Web deploy', group: 'jit-role-web', defaultSeconds: 600, maxSeconds: 3600,
  }, { signIn: false });
  const editor = new RuleEditor(page, server.url);
  /** Opens rule `id` in the editor and waits until the directory status has answered. */
  const openRule = async (id, group) => {
    const status = page.waitForResponse((r) => r.url().endsWith('/GetDirectoryStatus'));
    await page.goto(`${server.url}/admin/rules/${id}`);
    expect((await status).ok()).toBe(true);
    await expect(page.getByTestId('target-group')).toHaveText(group);
  };

  await openRule(unwritable, 'dba-oncall');
  await expect(editor.groupWarning()).toHaveText(
    /The jitroles service account cannot write this group's members: requests will fail until it is delegated\./,
  );

  await openRule(writable, 'jit-role-web');
  // the answer is in; give the page a moment to show what it would show
  await page.waitForTimeout(300);
  await expect(editor.groupWarning()).toHaveCount(0);
});

test('a deny entry set in the editor refuses dave although his group is allowed', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-web', 'dave');
  await new Shell(page, server.url).open('/admin/rules/new', 'alice');
  const editor = new RuleEditor(page, server.url);
  await editor.fill(WEB_DEPLOY);
  await editor.deny('dave', 'Dave Dba (user dave)');
  await expect(page.locator('.acl__entry--deny')).toHaveText(/^Deny Dave Dba \(user\)/);
  await editor.save();
  await expect(page).toHaveURL(`${server.url}/admin/rules`);
  const ruleHref = await page.getByRole('link', { name: 'Web deploy' }).getAttribute('href');

  const dave = await otherBrowser();
  await new Shell(dave, server.url).open('/roles', 'dave');
  await expect(new RolesPage(dave).noRoles).toBeVisible();
  const refused = await requestThroughApi(dave, server, ruleHref.split('/').pop(), 'let me deploy');
  expect(refused.status).toBe(PERMISSION_DENIED);
  expect(isMember('jit-role-web', 'dave')).toBe(false);

  // the same rule without the deny entry lets him in: the refusal was the deny's doing
  await page.getByRole('link', { name: 'Web deploy' }).click();
  await page.getByRole('button', { name: 'Remove Dave Dba' }).click();
  await editor.save();
  await expect(page).toHaveURL(`${server.url}/admin/rules`);
  await dave.reload();
  await expect(new RolesPage(dave).card('Web deploy')).toBeVisible();
});

test('a rule that asks no justification shows no such field, and the request goes through', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-web', 'dave');
  await new Shell(page, server.url).open('/admin/rules/new', 'alice');
  const editor = new RuleEditor(page, server.url);
  await editor.fill(WEB_DEPLOY);
  await editor.justification('not asked');
  await editor.save();
  await expect(page).toHaveURL(`${server.url}/admin/rules`);
  await page.getByRole('link', { name: 'Web deploy' }).click();
  await expect(page.getByLabel('Justification', { exact: true }).locator('option:checked')).toHaveText('not asked');

  const dave = await otherBrowser();
  await new Shell(dave, server.url).open('/roles', 'dave');
  const roles = new RolesPage(dave);
  const card = roles.card('Web deploy');
  await expect(card.getByRole('button', { name: 'Request' })).toBeVisible();
  await expect(card.getByLabel(/Justification/)).toHaveCount(0);
  await roles.request('Web deploy');
  await expect(roles.confirmation('Web deploy')).toContainText('Granted until');
  expect(isMember('jit-role-web', 'dave')).toBe(true);
  removeMember('jit-role-web', 'dave');
});

test('keyboard only: alice makes a rule, with the focus always visible', async ({ page, server }) => {
  await new Shell(page, server.url).open('/admin/rules/new', 'alice');
  await expect(page.getByRole('heading', { level: 1, name: 'New rule' })).toBeVisible();
  await expect(page.locator('.loading')).toHaveCount(0);

  const type = async (text) => {
    await page.keyboard.press('Control+A');
    await page.keyboard.type(text);
  };
  await tabTo(page, page.getByLabel('Name', { exact: true }));
  await type('Keyboard rule');
  await tabTo(page, page.getByLabel(/^Description/));
  await type('Made without a mouse');
  await tabTo(page, page.getByLabel('Find the target group'));
  await type('jit-role-web');
  await page.keyboard.press('Enter');
  await tabTo(page, page.getByRole('button', { name: 'Pick jit-role-web (group jit-role-web)' }));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('target-group')).toHaveText('jit-role-web');
  await tabTo(page, page.getByLabel('Find users and groups to allow or deny'));
  await type('dba-oncall');
  await page.keyboard.press('Enter');
  await tabTo(page, page.getByRole('button', { name: 'Pick dba-oncall (group dba-oncall)' }));
  await page.keyboard.press('Enter');
  await expect(page.getByText('Allow dba-oncall (group)')).toBeVisible();
  await tabTo(page, page.getByLabel('Maximum duration', { exact: true }));
  await type('2');
  await tabTo(page, page.getByLabel('Default duration', { exact: true }));
  await type('30');
  await tabTo(page, page.getByLabel('Default duration unit'));
  // a closed <select> takes a letter: "m" for minutes
  await page.keyboard.press('m');
  await expect(page.getByLabel('Default duration unit').locator('option:checked')).toHaveText('minutes');
  await tabTo(page, page.getByLabel('Allow extension'));
  await page.keyboard.press('Space');
  await expect(page.getByLabel('Allow extension')).toBeChecked();
  await tabTo(page, page.getByRole('button', { name: 'Save rule' }));
  await page.keyboard.press('Enter');

  await expect(page).toHaveURL(`${server.url}/admin/rules`);
  const row = page.getByRole('table', { name: 'Role rules' }).getByRole('row').filter({ hasText: 'Keyboard rule' });
  await expect(row).toContainText('jit-role-web');
  await expect(row.getByRole('cell').nth(3)).toHaveText('30 min');
  await expect(row.getByRole('cell').nth(4)).toHaveText('2 h');
});
