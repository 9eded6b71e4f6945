// The web app's own behaviour beyond the journeys: a stale save in a second tab, the directory
// status with the members no grant explains, the reason a revocation asks for, extending by a
// chosen duration, and a keyboard-only journey with the focus visible at every step.
import { test, expect } from './fixtures.js';
import { aliceMakesRule, daveHolds } from './api-setup.js';
import { isMember, members, removeMember } from './directory.js';
import { tabTo } from './keyboard.js';
import { RolesPage } from './roles-page.js';
import { Shell } from './shell-page.js';

test('a save over a newer version in another tab says so and keeps the form', async ({ page, server }) => {
  const id = await aliceMakesRule(page, server, {
    name: 'Stale test', group: 'jit-role-web', defaultSeconds: 600, maxSeconds: 3600,
  });
  const first = page;
  const second = await page.context().newPage(); // a second tab, same session
  for (const tab of [first, second]) {
    await tab.goto(`${server.url}/admin/rules/${id}`);
    await expect(tab.getByRole('heading', { level: 1, name: 'Edit rule' })).toBeVisible();
    await expect(tab.getByLabel('Name', { exact: true })).toHaveValue('Stale test');
  }

  await first.getByLabel(/^Description/).fill('Saved first');
  await first.getByRole('button', { name: 'Save rule' }).click();
  await expect(first).toHaveURL(`${server.url}/admin/rules`);

  await second.getByLabel(/^Description/).fill('Saved second, over a version that is gone');
  await second.getByRole('button', { name: 'Save rule' }).click();
  await expect(second.getByRole('alert')).toContainText('Someone else saved this rule after you opened it');
  // nothing typed is lost, and the page stays
  await expect(second.getByLabel(/^Description/)).toHaveValue('Saved second, over a version that is gone');
  await expect(second).toHaveURL(`${server.url}/admin/rules/${id}`);
});

test('the directory status page shows each role group and the members no grant explains', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-dba', 'dave');
  const id = await aliceMakesRule(page, server, {
    name: 'DBA on call', group: 'jit-role-dba', defaultSeconds: 600, maxSeconds: 3600,
  });
  await daveHolds(otherBrowser, server, id);
  const carol = members('jit-role-dba').find((dn) => /^CN=carol\b/i.test(dn));
  expect(carol, 'carol is a permanent member of jit-role-dba in the test DC').toBeTruthy();

  await page.goto(`${server.url}/admin/directory`);
  await expect(page.getByRole('heading', { level: 1, name: 'Directory status' })).toBeVisible();
  await expect(page.getByText('Mechanism')).toBeVisible();
  const table = page.getByRole('table', { name: 'Role groups' });
  const row = table.getByRole('row').filter({ hasText: 'DBA on call' });
  await expect(row).toContainText('jit-role-dba');
  await expect(row.getByRole('cell').nth(2)).toHaveText('yes');
  // carol, a permanent member, is reported; dave's grant explains him
  await expect(row.getByRole('listitem').filter({ hasText: carol })).toHaveCount(1);
  await expect(row.getByRole('listitem').filter({ hasText: /^CN=dave\b/i })).toHaveCount(0);
  removeMember('jit-role-dba', 'dave');
});

test('revoking asks for a reason, shows it, and the audit log records it', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-web', 'dave');
  const id = await aliceMakesRule(page, server, {
    name: 'Web deploy', group: 'jit-role-web', defaultSeconds: 600, maxSeconds: 3600,
  });
  await daveHolds(otherBrowser, server, id);
  expect(isMember('jit-role-web', 'dave')).toBe(true);

  await page.goto(`${server.url}/admin/grants`);
  await page.getByRole('button', { name: 'Revoke Web deploy for dave' }).click();
  const form = page.getByRole('form', { name: /Revoke .* access to Web deploy/ });
  const reason = form.getByLabel('Reason (required)');
  await expect(reason).toBeFocused();
  await form.getByRole('button', { name: 'Revoke now' }).click();
  // the browser's own check (required) keeps the form from being sent
  expect(await reason.evaluate((el) => el.validity.valueMissing)).toBe(true);
  expect(isMember('jit-role-web', 'dave')).toBe(true);

  await reason.fill('suspected misuse, ticket SEC-9');
  await form.getByRole('button', { name: 'Revoke now' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Reason: suspected misuse, ticket SEC-9' })).toBeVisible();
  await expect(page.getByText('Nobody holds a role right now.')).toBeVisible();
  expect(isMember('jit-role-web', 'dave')).toBe(false);

  await page.goto(`${server.url}/admin/audit`);
  const revoked = page.getByRole('table', { name: 'Audit events' }).getByRole('row').filter({ hasText: 'revoked' });
  await expect(revoked.first()).toContainText('suspected misuse, ticket SEC-9');
});

test('dave extends by a duration he chooses, within the rule maximum', async ({ page, otherBrowser, server }) => {
  removeMember('jit-role-web', 'dave');
  await aliceMakesRule(page, server, {
    name: 'Web deploy', group: 'jit-role-web', defaultSeconds: 300, maxSeconds: 4 * 3600,
  });
  const dave = await otherBrowser();
  await new Shell(dave, server.url).open('/roles', 'dave');
  const roles = new RolesPage(dave);
  await roles.request('Web deploy', { amount: 2, unit: 'minutes' });
  await expect(roles.countdown('Web deploy')).toContainText(/^(1|2) min/);

  const by = dave.getByLabel('Extend Web deploy by', { exact: true });
  await expect(by).toHaveValue('5'); // the rule's default, 5 minutes
  await by.fill('5');
  await dave.getByLabel('Extend Web deploy by unit').selectOption({ label: 'hours' });
  await roles.extendButton('Web deploy').click();
  await expect(dave.getByText('At most 4 h from now.')).toBeVisible();

  await by.fill('3');
  await roles.extendButton('Web deploy').click();
  await expect(roles.countdown('Web deploy')).toContainText(/^(2 h 59 min|3 h)/);
  expect(isMember('jit-role-web', 'dave')).toBe(true);
  removeMember('jit-role-web', 'dave');
});

test('keyboard only: dave requests, extends and releases, with the focus always visible', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-web', 'dave');
  await aliceMakesRule(page, server, {
    name: 'Web deploy', group: 'jit-role-web', defaultSeconds: 600, maxSeconds: 3600,
  });
  const dave = await otherBrowser();
  await new Shell(dave, server.url).open('/roles', 'dave');
  const roles = new RolesPage(dave);
  await expect(roles.card('Web deploy')).toBeVisible();

  const card = roles.card('Web deploy');
  await tabTo(dave, card.getByLabel('Duration', { exact: true }));
  await dave.keyboard.press('Control+A');
  await dave.keyboard.type('2');
  await tabTo(dave, card.getByLabel(/Justification/));
  await dave.keyboard.type('keyboard journey');
  await tabTo(dave, card.getByRole('button', { name: 'Request' }));
  await dave.keyboard.press('Enter');
  await expect(roles.confirmation('Web deploy')).toContainText('Granted until');
  await expect(roles.countdown('Web deploy')).toContainText(/^(1 min|2 min)/);
  expect(isMember('jit-role-web', 'dave')).toBe(true);

  await tabTo(dave, dave.getByLabel('Extend Web deploy by', { exact: true }));
  await dave.keyboard.press('Control+A');
  await dave.keyboard.type('20');
  await tabTo(dave, roles.extendButton('Web deploy'));
  await dave.keyboard.press('Enter');
  await expect(roles.countdown('Web deploy')).toContainText(/^(19|20) min/);

  await tabTo(dave, roles.releaseButton('Web deploy'));
  dave.once('dialog', (d) => d.accept());
  await dave.keyboard.press('Enter');
  await expect(roles.history).toContainText('released');
  expect(isMember('jit-role-web', 'dave')).toBe(false);
});

test('requesters load the requesters\' app only; /admin loads the admin app', async ({ page, server }) => {
  const wasm = [];
  page.on('request', (r) => {
    if (r.url().endsWith('.wasm')) wasm.push(new URL(r.url()).pathname);
  });
  await new Shell(page, server.url).open('/roles', 'dave');
  await expect(page.getByRole('heading', { level: 1, name: 'Roles' })).toBeVisible();
  expect(wasm.length).toBeGreaterThan(0);
  expect(wasm.filter((p) => p.startsWith('/admin/'))).toEqual([]);

  wasm.length = 0;
  await page.goto(`${server.url}/admin/rules`);
  await expect(page.getByRole('heading', { level: 1, name: 'Administrators only' })).toBeVisible();
  expect(wasm.every((p) => p.startsWith('/admin/'))).toBe(true);
});
