// The journeys of the web app, end to end: Chromium, the real server on SQLite, the provider
// and Samba. Memberships are checked in the DC itself; every page passes an accessibility check
// and is kept as screenshots at phone and desktop widths.
import { test, expect } from './fixtures.js';
import { RuleEditor, expectAccessible, WEB_DEPLOY } from './admin-pages.js';
import { isMember, removeMember } from './directory.js';
import { RolesPage } from './roles-page.js';
import { Shell } from './shell-page.js';

test('alice makes a rule in the editor; dave gets it, is a member, and loses it at expiry', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-dba', 'dave');
  await new Shell(page, server.url).open('/admin/rules/new', 'alice');
  const editor = new RuleEditor(page, server.url);
  await editor.fill({
    name: 'DBA on call',
    description: 'Production database administration',
    group: 'jit-role-dba',
    allow: 'dba-oncall',
    maxDuration: [1, 'hours'],
    defaultDuration: [10, 'seconds'],
  });
  await page.screenshot({ path: test.info().outputPath('rule-editor-filled.png'), fullPage: true });
  await editor.save();
  await expect(page).toHaveURL(`${server.url}/admin/rules`);
  await expect(page.getByRole('link', { name: 'DBA on call' })).toBeVisible();

  const davePage = await otherBrowser();
  await new Shell(davePage, server.url).open('/roles', 'dave');
  const roles = new RolesPage(davePage);
  await expect(roles.card('DBA on call').getByLabel('Duration', { exact: true })).toHaveValue('10');
  await roles.request('DBA on call', { justification: 'OPS-1234' });
  await expect(roles.confirmation('DBA on call')).toContainText('Granted until');
  expect(isMember('jit-role-dba', 'dave')).toBe(true);
  await expect(roles.countdown('DBA on call')).toContainText('left');

  await expect(roles.history).toContainText('expired', { timeout: 25_000 });
  await expect.poll(() => isMember('jit-role-dba', 'dave'), { timeout: 10_000 }).toBe(false);

  await page.goto(`${server.url}/admin/audit`);
  const log = page.getByRole('table', { name: 'Audit events' });
  for (const action of ['rule_created', 'requested', 'granted', 'expired', 'ended']) {
    await expect(log.getByRole('cell', { name: action, exact: true }).first()).toBeVisible();
  }
});

test('dave extends and releases, alice revokes; each shows in the audit log', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-web', 'dave');
  await new Shell(page, server.url).open('/admin/rules/new', 'alice');
  const editor = new RuleEditor(page, server.url);
  await editor.fill({ ...WEB_DEPLOY, maxDuration: [4, 'hours'], defaultDuration: [30, 'minutes'] });
  await editor.save();
  await expect(page).toHaveURL(`${server.url}/admin/rules`);

  const davePage = await otherBrowser();
  await new Shell(davePage, server.url).open('/roles', 'dave');
  const roles = new RolesPage(davePage);
  await roles.request('Web deploy', { amount: 5, unit: 'minutes', justification: 'deploy 4.2' });
  await expect(roles.countdown('Web deploy')).toContainText('left');
  await roles.extendButton('Web deploy').click();
  await expect(roles.countdown('Web deploy')).toContainText(/(29|30) min/);
  davePage.once('dialog', (d) => d.accept());
  await roles.releaseButton('Web deploy').click();
  await expect(roles.history).toContainText('released');
  expect(isMember('jit-role-web', 'dave')).toBe(false);

  await roles.request('Web deploy', { justification: 'hotfix' });
  await expect(roles.countdown('Web deploy')).toContainText('left');
  expect(isMember('jit-role-web', 'dave')).toBe(true);

  await page.goto(`${server.url}/admin/grants`);
  await page.getByRole('button', { name: 'Revoke Web deploy for dave' }).click();
  await page.getByLabel('Reason (required)').fill('deploy finished');
  await page.getByRole('button', { name: 'Revoke now' }).click();
  await expect(page.getByText('Nobody holds a role right now.')).toBeVisible();
  expect(isMember('jit-role-web', 'dave')).toBe(false);

  await page.goto(`${server.url}/admin/audit`);
  const log = page.getByRole('table', { name: 'Audit events' });
  for (const action of ['extended', 'released', 'revoked']) {
    await expect(log.getByRole('cell', { name: action, exact: true }).first()).toBeVisible();
  }
  await page.getByLabel('Action').selectOption('revoked');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(log.getByRole('cell', { name: 'extended', exact: true })).toHaveCount(0);
  await expect(log.getByRole('cell', { name: 'revoked', exact: true })).toHaveCount(1);
});

test('every page is accessible and fits a phone and a wide screen', async ({ page, server }) => {
  // 22 full page loads, the admin ones of the admin app's own wasm, on a shared 2-core machine
  test.setTimeout(180_000);
  await new Shell(page, server.url).open('/roles', 'alice');
  const pages = [
    '/roles', '/admin', '/admin/rules', '/admin/rules/new', '/admin/grants', '/admin/audit', '/admin/directory',
    '/admin/channels', '/admin/channels/new', '/admin/notifications', '/approvals/',
  ];
  for (const [width, height, name] of [
    [390, 844, 'narrow'],
    [1440, 900, 'wide'],
  ]) {
    await page.setViewportSize({ width, height });
    for (const path of pages) {
      await page.goto(`${server.url}${path}`);
      await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
      await expect(page.locator('.loading')).toHaveCount(0);
      await expectAccessible(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${path} is wider than a ${width} px screen`).toBeLessThanOrEqual(0);
      const file = `${path.replaceAll('/', '_').replace(/^_/, '') || 'home'}-${name}.png`;
      await page.screenshot({ path: test.info().outputPath(file), fullPage: true });
    }
  }
});
