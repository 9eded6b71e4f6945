// The admin grants page beyond live grants: history (ended, failed) filtered by person, role
// and state, the revoke reason on the grant, shown to the admin and to the person, and a
// filter answer that arrives late never replacing the answer to a newer filter.
//
// dave's three grants: "Web deploy" revoked with a reason, "DBA on call" live, and "Web
// hotfix" failed: its group, jit-role-web, gained dave as a member outside jitroles after his
// groups were read (they are reused for a minute), so the add finds him there already and the
// grant fails, leaving that membership alone. (A group jit-svc may not write would not do: the
// grant stays `activating`, see the report of this change.)
import { test, expect } from './fixtures.js';
import { GrantsPage, expectAccessible } from './admin-pages.js';
import { aliceMakesRule, daveHolds, requestThroughApi } from './api-setup.js';
import { addMember, isMember, removeMember } from './directory.js';
import { RolesPage } from './roles-page.js';

const REASON = 'left the deploy rota, ticket SEC-12';

/** dave held "Web deploy" (revoked by alice in the grants page, with REASON), holds "DBA on
 *  call" and has a failed "Web hotfix"; returns dave's page. */
async function daveHasAHistory(page, otherBrowser, server) {
  removeMember('jit-role-web', 'dave');
  removeMember('jit-role-dba', 'dave');
  const web = await aliceMakesRule(page, server, {
    name: 'Web deploy', group: 'jit-role-web', defaultSeconds: 600, maxSeconds: 3600,
  });
  const dba = await aliceMakesRule(page, server, {
    name: 'DBA on call', group: 'jit-role-dba', defaultSeconds: 600, maxSeconds: 3600,
  }, { signIn: false });
  const hotfix = await aliceMakesRule(page, server, {
    name: 'Web hotfix', group: 'jit-role-web', defaultSeconds: 600, maxSeconds: 3600,
  }, { signIn: false });

  const dave = await daveHolds(otherBrowser, server, web);
  const grants = new GrantsPage(page, server.url);
  await grants.open();
  await page.getByRole('button', { name: 'Revoke Web deploy for dave' }).click();
  await page.getByLabel('Reason (required)').fill(REASON);
  await page.getByRole('button', { name: 'Revoke now' }).click();
  await expect(page.getByText('Nobody holds a role right now.')).toBeVisible();
  expect(isMember('jit-role-web', 'dave')).toBe(false);

  const held = await requestThroughApi(dave, server, dba);
  expect(held, held.message).toMatchObject({ status: '0' });
  addMember('jit-role-web', 'dave');
  const failed = await requestThroughApi(dave, server, hotfix);
  expect(failed.message).toContain('already a member of jit-role-web outside jitroles');
  expect(isMember('jit-role-web', 'dave'), 'the membership made outside jitroles stays').toBe(true);
  removeMember('jit-role-web', 'dave');
  return dave;
}

test('the grants page lists past grants by person, role and state, with the revoke reason', async ({
  page,
  otherBrowser,
  server,
}) => {
  await daveHasAHistory(page, otherBrowser, server);
  const grants = new GrantsPage(page, server.url);
  await grants.open();

  // live by default
  await expect(grants.rows).toHaveCount(1);
  await expect(grants.row('DBA on call')).toContainText('Dave Dba (dave)');
  await expect(grants.row('DBA on call')).toContainText('active');

  await grants.filter({ state: 'Ended or failed' });
  await expect(grants.rows).toHaveCount(2);
  await expect(grants.row('Web deploy')).toContainText('revoked');
  await expect(grants.row('Web deploy')).toContainText(REASON);
  await expect(grants.row('Web deploy').getByRole('button')).toHaveCount(0);
  await expect(grants.row('Web hotfix')).toContainText('failed');

  await grants.filter({ state: 'Failed' });
  await expect(grants.rows).toHaveCount(1);
  await expect(grants.row('Web hotfix')).toContainText(/failed: .+/);

  await grants.filter({ state: 'Ended' });
  await expect(grants.rows).toHaveCount(1);
  await expect(grants.row('Web deploy')).toContainText(REASON);

  await grants.filter({ state: 'Any', person: 'DAVE' });
  await expect(grants.rows).toHaveCount(3);
  // the full table on a phone: accessible, and only the table scrolls sideways
  await page.setViewportSize({ width: 390, height: 844 });
  await expectAccessible(page);
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
  await page.setViewportSize({ width: 1280, height: 720 });
  await grants.filter({ state: 'Any', person: 'dave', role: 'Web deploy' });
  await expect(grants.rows).toHaveCount(1);
  await expect(grants.row('Web deploy')).toContainText('revoked');
  await grants.filter({ state: 'Any', person: 'bob' });
  await expect(grants.noMatch).toBeVisible();
  await expect(grants.rows).toHaveCount(0);
});

test('dave sees why his access was revoked', async ({ page, otherBrowser, server }) => {
  const dave = await daveHasAHistory(page, otherBrowser, server);
  await dave.reload();
  const roles = new RolesPage(dave);
  const revoked = roles.history.getByRole('row').filter({ hasText: 'Web deploy' });
  await expect(revoked).toContainText('revoked');
  await expect(revoked).toContainText(`Reason: ${REASON}`);
  // an ending that had no reason given says none
  await expect(roles.history.getByRole('row').filter({ hasText: 'Web hotfix' })).not.toContainText('Reason:');
  removeMember('jit-role-dba', 'dave');
});

test('an answer to an older filter that arrives late does not replace the newer one', async ({
  page,
  otherBrowser,
  server,
}) => {
  await daveHasAHistory(page, otherBrowser, server);
  const grants = new GrantsPage(page, server.url);
  await grants.open();
  await expect(grants.rows).toHaveCount(1);

  // hold back the answer to "Failed" while "Ended" is asked for; then let it arrive. (Leptos
  // sends the newer call once the older one has answered; an app that sent both at once and
  // showed whichever came last would end up showing the failed grant.)
  let release;
  const held = new Promise((resolve) => {
    release = resolve;
  });
  let delivered;
  const late = new Promise((resolve) => {
    delivered = resolve;
  });
  let first = true;
  await page.route('**/jitroles.v1.AdminService/ListGrants', async (route) => {
    if (!first) return route.continue();
    first = false;
    const answer = await route.fetch();
    await held;
    await route.fulfill({ response: answer });
    delivered();
  });
  await grants.filter({ state: 'Failed' });
  await grants.filter({ state: 'Ended' });
  await page.waitForTimeout(1_000);
  release();
  await late;
  await expect(grants.row('Web hotfix')).toHaveCount(0);
  await expect(grants.row('Web deploy')).toContainText(REASON);
  await page.waitForTimeout(500); // nothing else comes to replace it
  await expect(grants.rows).toHaveCount(1);
  await expect(grants.row('Web deploy')).toContainText(REASON);
  removeMember('jit-role-dba', 'dave');
});
