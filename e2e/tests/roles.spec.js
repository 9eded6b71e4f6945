// The requester's journeys on the Roles page, against the real server, the provider and Samba:
// request, countdown, expiry, extend, release; memberships checked in the directory itself.
// (Rules are made through the API here; the rule editor arrives with the admin pages.)
import { test, expect } from './fixtures.js';
import { createRuleRequest, grpcWebFromPage } from './grpc-web.js';
import { isMember, removeMember, sidOf } from './directory.js';
import { RolesPage } from './roles-page.js';
import { Shell } from './shell-page.js';

const CREATE_RULE = 'jitroles.v1.AdminService/CreateRule';

/** alice, signed in on `page`, makes a rule that allows dba-oncall. */
async function aliceMakesRule(page, server, rule) {
  const shell = new Shell(page, server.url);
  await shell.open('/roles', 'alice');
  const made = await grpcWebFromPage(
    page,
    server.url,
    CREATE_RULE,
    { 'x-jitroles-csrf': '1' },
    createRuleRequest({ allowSid: sidOf('dba-oncall'), maxSeconds: 3600, ...rule }),
  );
  expect(made, made.message).toMatchObject({ status: '0' });
}

test('dave requests a role through dba-oncall, is a member at once, and loses it at expiry', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-dba', 'dave');
  await aliceMakesRule(page, server, { name: 'DBA on call', group: 'jit-role-dba', defaultSeconds: 8 });

  const davePage = await otherBrowser();
  await new Shell(davePage, server.url).open('/roles', 'dave');
  const roles = new RolesPage(davePage);
  const card = roles.card('DBA on call');
  await expect(card).toBeVisible();
  await expect(card.getByLabel('Duration')).toHaveValue('8');
  await davePage.screenshot({ path: test.info().outputPath('roles-before-request.png') });

  await roles.request('DBA on call', { justification: 'OPS-1234: restore the orders database' });

  await expect(roles.confirmation('DBA on call')).toContainText('Granted until');
  expect(isMember('jit-role-dba', 'dave')).toBe(true);
  await expect(roles.countdown('DBA on call')).toContainText('left');
  await davePage.screenshot({ path: test.info().outputPath('roles-live-grant.png') });

  // the countdown runs out: the grant moves to history without a reload, and AD lets go
  await expect(roles.history).toContainText('expired', { timeout: 20_000 });
  await expect(roles.countdown('DBA on call')).toHaveCount(0);
  await expect.poll(() => isMember('jit-role-dba', 'dave'), { timeout: 10_000 }).toBe(false);
  await davePage.screenshot({ path: test.info().outputPath('roles-history.png') });
});

test('dave extends and then releases his access; the directory follows', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-web', 'dave');
  await aliceMakesRule(page, server, { name: 'Web deploy', group: 'jit-role-web', defaultSeconds: 120 });

  const davePage = await otherBrowser();
  await new Shell(davePage, server.url).open('/roles', 'dave');
  const roles = new RolesPage(davePage);
  await roles.request('Web deploy', { amount: 1, unit: 'minutes' });
  await expect(roles.countdown('Web deploy')).toContainText('left');
  expect(isMember('jit-role-web', 'dave')).toBe(true);

  await roles.extendButton('Web deploy').click();
  // extended by the default (2 min) from now: more than the minute asked for at first
  await expect(roles.countdown('Web deploy')).toContainText(/1 min \d+ s left|2 min/);

  davePage.once('dialog', (dialog) => dialog.accept());
  await roles.releaseButton('Web deploy').click();
  await expect(roles.history).toContainText('released');
  expect(isMember('jit-role-web', 'dave')).toBe(false);
});

test('bob, outside the ACL, is offered no role', async ({ page, otherBrowser, server }) => {
  await aliceMakesRule(page, server, { name: 'DBA on call', group: 'jit-role-dba', defaultSeconds: 60 });

  const bobPage = await otherBrowser();
  await new Shell(bobPage, server.url).open('/roles', 'bob');
  await expect(new RolesPage(bobPage).noRoles).toBeVisible();
});
