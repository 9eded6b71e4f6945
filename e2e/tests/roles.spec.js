// The Roles page with rules made through the API (the editor's journeys are in
// journeys.spec.js): extend and release, and someone outside every ACL.
import { test, expect } from './fixtures.js';
import { createRuleRequest, grpcWebFromPage, requestRoleRequest, stringField } from './grpc-web.js';
import { isMember, removeMember, sidOf } from './directory.js';
import { RolesPage } from './roles-page.js';
import { Shell } from './shell-page.js';

const CREATE_RULE = 'jitroles.v1.AdminService/CreateRule';
const REQUEST_ROLE = 'jitroles.v1.RoleService/RequestRole';
const PERMISSION_DENIED = '7';

/** alice, signed in on `page`, makes a rule that allows dba-oncall; returns its id. */
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
  return stringField(made.reply, 1);
}

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
  // Samba has no PAM: the scheduler removes dave, and his tickets may outlast the grant by the
  // default ticket lifetime
  await expect(roles.kerberosNote('Web deploy')).toContainText('(tickets live up to 10 h)');
  await expect(roles.kerberosNote('Web deploy')).toContainText('klist purge');

  await roles.extendButton('Web deploy').click();
  // extended by the default (2 min) from now: more than the minute asked for at first
  await expect(roles.countdown('Web deploy')).toContainText(/1 min \d+ s left|2 min/);

  davePage.once('dialog', (dialog) => dialog.accept());
  await roles.releaseButton('Web deploy').click();
  await expect(roles.history).toContainText('released');
  expect(isMember('jit-role-web', 'dave')).toBe(false);
});

test('bob, outside the ACL, is offered no role and the API refuses his request', async ({
  page,
  otherBrowser,
  server,
}) => {
  const ruleId = await aliceMakesRule(page, server, { name: 'DBA on call', group: 'jit-role-dba', defaultSeconds: 60 });

  const bobPage = await otherBrowser();
  await new Shell(bobPage, server.url).open('/roles', 'bob');
  await expect(new RolesPage(bobPage).noRoles).toBeVisible();
  const refused = await grpcWebFromPage(bobPage, server.url, REQUEST_ROLE, { 'x-jitroles-csrf': '1' },
    requestRoleRequest(ruleId, 'let me in'));
  expect(refused.status).toBe(PERMISSION_DENIED);
  expect(refused.message).toContain('bob is not allowed to request this role');
  expect(isMember('jit-role-dba', 'bob')).toBe(false);
});
