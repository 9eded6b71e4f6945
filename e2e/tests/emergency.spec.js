// Emergency controls in the browser (security issue 12): alice freezes a role, and then every
// role, with a reason; dave sees why and cannot request until she unfreezes; alice revokes every
// live grant of dave in one go and the DC loses both memberships.
import { test, expect } from './fixtures.js';
import { aliceMakesRule, requestThroughApi } from './api-setup.js';
import { isMember, removeMember } from './directory.js';
import { RolesPage } from './roles-page.js';
import { Shell } from './shell-page.js';

const WEB = { name: 'Web deploy', group: 'jit-role-web', defaultSeconds: 600, maxSeconds: 3600 };
const DBA = { name: 'DBA on call', group: 'jit-role-dba', defaultSeconds: 600, maxSeconds: 3600 };

/** The grants page's confirmation form for `title`: fill the reason, press `verb`. */
async function confirm(page, title, reason, verb) {
  const form = page.getByRole('form', { name: title });
  await form.getByLabel('Reason (required)').fill(reason);
  await form.getByRole('button', { name: verb, exact: true }).click();
}

test('a frozen role shows dave who froze it and why and refuses his request until alice unfreezes it', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-web', 'dave');
  const id = await aliceMakesRule(page, server, WEB);
  // from the rules list to the role's grants, where its emergency controls are
  await page.goto(`${server.url}/admin/rules`);
  await page.getByRole('row', { name: /Web deploy/ }).getByRole('link', { name: '0', exact: true }).click();
  await expect(page).toHaveURL(`${server.url}/admin/grants?rule=${id}`);
  await page.getByRole('button', { name: 'Freeze requests for Web deploy…' }).click();
  await confirm(page, 'Freeze requests for Web deploy', 'incident INC-42', 'Freeze');
  await expect(page.getByText('Requests for Web deploy are frozen by alice: incident INC-42.')).toBeVisible();

  const dave = await otherBrowser();
  await new Shell(dave, server.url).open('/roles', 'dave');
  const roles = new RolesPage(dave);
  await expect(roles.frozen('Web deploy')).toHaveText('Requests are frozen by alice: incident INC-42');
  await expect(roles.requestButton('Web deploy')).toBeDisabled();
  // the server refuses it too, whatever a page shows
  const refused = await requestThroughApi(dave, server, id);
  expect(refused.status).toBe('9'); // FAILED_PRECONDITION
  expect(refused.message).toContain('requests for Web deploy are frozen by alice: incident INC-42');

  await page.goto(`${server.url}/admin/rules`);
  await expect(page.getByRole('row', { name: /Web deploy/ })).toContainText('frozen by alice: incident INC-42');
  await page.goBack();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Unfreeze requests for Web deploy' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Unfreeze requests for Web deploy: done.' })).toBeVisible();

  // every role: a banner above the roles
  await page.getByRole('button', { name: 'Freeze all requests…' }).click();
  await confirm(page, 'Freeze requests for all roles', 'breach under investigation', 'Freeze');
  await dave.reload();
  await expect(dave.getByRole('status').filter({ hasText: 'Requests for all roles are frozen by alice: breach under investigation' })).toBeVisible();
  await expect(roles.requestButton('Web deploy')).toBeDisabled();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Unfreeze all requests' }).click();
  await expect(page.getByRole('button', { name: 'Freeze all requests…' })).toBeVisible();

  await dave.reload();
  await expect(roles.frozen('Web deploy')).toHaveCount(0);
  await roles.request('Web deploy', { justification: 'deploy 5.0' });
  await expect(roles.countdown('Web deploy')).toContainText('left');
  expect(isMember('jit-role-web', 'dave')).toBe(true);

  await page.goto(`${server.url}/admin/audit`);
  const log = page.getByRole('table', { name: 'Audit events' });
  for (const action of ['requests_frozen', 'requests_unfrozen']) {
    await expect(log.getByRole('cell', { name: action, exact: true }).first()).toBeVisible();
  }
  removeMember('jit-role-web', 'dave');
});

test('alice revokes every live grant of dave in one go and he leaves both groups', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-web', 'dave');
  removeMember('jit-role-dba', 'dave');
  const web = await aliceMakesRule(page, server, WEB);
  const dba = await aliceMakesRule(page, server, DBA, { signIn: false });
  const dave = await otherBrowser();
  await new Shell(dave, server.url).open('/roles', 'dave');
  for (const id of [web, dba]) {
    const granted = await requestThroughApi(dave, server, id);
    expect(granted, granted.message).toMatchObject({ status: '0' });
  }
  expect(isMember('jit-role-web', 'dave')).toBe(true);
  expect(isMember('jit-role-dba', 'dave')).toBe(true);

  await page.goto(`${server.url}/admin/grants`);
  await page.getByRole('button', { name: 'Revoke all of dave' }).first().click();
  await confirm(page, 'Revoke every live grant of dave', 'laptop stolen, ticket SEC-12', 'Revoke now');
  await expect(page.getByRole('status').filter({ hasText: 'Revoked 2 grant(s) of dave.' })).toBeVisible();
  await expect(page.getByText('Nobody holds a role right now.')).toBeVisible();
  expect(isMember('jit-role-web', 'dave')).toBe(false);
  expect(isMember('jit-role-dba', 'dave')).toBe(false);

  await page.goto(`${server.url}/admin/audit`);
  const log = page.getByRole('table', { name: 'Audit events' });
  await expect(log.getByRole('cell', { name: 'revoked_all_of_person', exact: true })).toHaveCount(1);
  await expect(log.getByRole('cell', { name: 'revoked', exact: true })).toHaveCount(2);
});
