// Requests that wait (issue 17), end to end: Chromium, the real server on SQLite, the provider
// and Samba. dave (dba-oncall) requests; frank and grace (dba-approvers) decide in the
// approvers' app; dave's Roles page follows every decision without a reload (it reads his
// grants every few seconds while a request waits). Memberships are checked in the DC itself.
import { test, expect } from './fixtures.js';
import { RuleEditor, expectAccessible } from './admin-pages.js';
import { aliceMakesMailChannel, aliceMakesRule, requestThroughApi } from './api-setup.js';
import { ApprovalsPage } from './approvals-page.js';
import { isMember, removeMember, sidOf } from './directory.js';
import { RolesPage } from './roles-page.js';
import { Shell } from './shell-page.js';

/** A decision shows on the requester's page within this, without a reload (the 5 s). */
const WITHIN = { timeout: 5_000 };

/** A rule on jit-role-dba for dba-oncall whose requests dba-approvers decide. */
function dbaRule(name, approval = {}, extra = {}) {
  return {
    name,
    group: 'jit-role-dba',
    defaultSeconds: 600,
    maxSeconds: 3600,
    approval: { approverSid: sidOf('dba-approvers'), ...approval },
    ...extra,
  };
}

/** `account` signed in, in a browser of their own, on `path`. */
async function signedIn(otherBrowser, server, account, path = '/roles') {
  const page = await otherBrowser();
  await new Shell(page, server.url).open(path, account);
  return page;
}

test('alice sets approval in the editor; frank approves dave\'s request; access starts at the approval', async ({
  page,
  otherBrowser,
  server,
}) => {
  test.setTimeout(90_000);
  removeMember('jit-role-dba', 'dave');
  await new Shell(page, server.url).open('/admin/rules/new', 'alice');
  const editor = new RuleEditor(page, server.url);
  await editor.fill({
    name: 'DBA approved',
    description: 'Production database administration, approved',
    group: 'jit-role-dba',
    allow: 'dba-oncall',
    maxDuration: [1, 'hours'],
    defaultDuration: [1, 'minutes'],
    extension: false,
  });
  await page.getByLabel('Requests need approval').check();
  // the server refuses a policy without approvers: said next to the approvers
  await editor.save();
  await expect(page.locator('.rule-editor__approvers .field-error')).toContainText('name at least one user or group who may approve');
  await editor.pick('Find approvers (users and groups)', 'dba-approvers', 'dba-approvers (group dba-approvers)');
  await expect(page.getByText('Allow dba-approvers (group)')).toBeVisible();
  await page.getByLabel('Approvals required (1 to 5)').fill('1');
  await editor.save();
  await expect(page).toHaveURL(`${server.url}/admin/rules`);

  const dave = await signedIn(otherBrowser, server, 'dave');
  const roles = new RolesPage(dave);
  await expect(roles.card('DBA approved')).toContainText('Needs 1 approval before access starts.');
  await roles.request('DBA approved', { justification: 'INC-4711 replica lag' });
  await expect(roles.waiting('DBA approved')).toContainText('Waiting for approval: 0 of 1 approval');
  await expect(roles.card('DBA approved')).toContainText('Your request for this role waits');
  expect(isMember('jit-role-dba', 'dave')).toBe(false);

  const frankPage = await signedIn(otherBrowser, server, 'frank');
  const frank = new ApprovalsPage(frankPage, server.url);
  await expect(frank.navCount).toHaveText('1');
  await frank.navLink.click();
  await expect(frank.heading).toBeVisible();
  await expect(frank.status).toContainText('1 request waits for your decision.');
  const card = frank.request('DBA approved');
  await expect(card).toContainText('Dave Dba (dave)');
  await expect(card).toContainText('INC-4711 replica lag');
  await expect(card).toContainText('0 of 1 approval');
  await expectAccessible(frankPage);
  // the clock must start at the approval, not at the request: let time pass in between
  await frankPage.waitForTimeout(11_000);
  await frank.decide(card, 'Approve', 'go ahead');
  await expect(frank.status).toContainText('You approved dave\'s request for DBA approved.');
  await expect(frank.nothing).toBeVisible();
  await expect(frank.navCount).toHaveText('0');

  // dave's page follows without a reload; a countdown from the request would be under 50 s
  await expect(roles.countdown('DBA approved')).toContainText(/^(1 min|5\d s) left/, WITHIN);
  await expect(roles.waiting('DBA approved')).toHaveCount(0);
  expect(isMember('jit-role-dba', 'dave')).toBe(true);

  await page.goto(`${server.url}/admin/audit`);
  const log = page.getByRole('table', { name: 'Audit events' });
  for (const action of ['approval_requested', 'approved']) {
    await expect(log.getByRole('cell', { name: action, exact: true }).first()).toBeVisible();
  }
  await page.getByLabel('Action').selectOption('approved');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(log.getByRole('row').filter({ hasText: 'frank' }).first()).toContainText('approval 1 of 1: go ahead');
  removeMember('jit-role-dba', 'dave');
});

test('two of two: frank approves, dave sees it, grace approves and access starts', async ({
  page,
  otherBrowser,
  server,
}) => {
  removeMember('jit-role-dba', 'dave');
  await aliceMakesRule(page, server, dbaRule('DBA two approvals', { required: 2 }));
  const dave = await signedIn(otherBrowser, server, 'dave');
  const roles = new RolesPage(dave);
  await expect(roles.card('DBA two approvals')).toContainText('Needs 2 approvals');
  await roles.request('DBA two approvals', { justification: 'migration window' });
  await expect(roles.waiting('DBA two approvals')).toContainText('0 of 2 approvals');

  const frankPage = await signedIn(otherBrowser, server, 'frank', '/approvals/');
  const frank = new ApprovalsPage(frankPage, server.url);
  await frank.decide(frank.request('DBA two approvals'), 'Approve');
  await expect(frank.request('DBA two approvals')).toContainText('You decided; it waits for the other approvers.');
  await expect(frank.request('DBA two approvals')).toContainText('frank approved');
  await expect(roles.waiting('DBA two approvals')).toContainText('1 of 2 approvals', WITHIN);
  await expect(roles.waiting('DBA two approvals')).toContainText('frank approved');
  expect(isMember('jit-role-dba', 'dave')).toBe(false);

  const gracePage = await signedIn(otherBrowser, server, 'grace', '/approvals/');
  const grace = new ApprovalsPage(gracePage, server.url);
  await expect(grace.request('DBA two approvals')).toContainText('1 of 2 approvals');
  await grace.decide(grace.request('DBA two approvals'), 'Approve', 'second pair of eyes');
  await expect(roles.countdown('DBA two approvals')).toContainText('left', WITHIN);
  expect(isMember('jit-role-dba', 'dave')).toBe(true);
  removeMember('jit-role-dba', 'dave');
});

test('frank rejects with a reason (required); dave reads it', async ({ page, otherBrowser, server }) => {
  removeMember('jit-role-dba', 'dave');
  await aliceMakesRule(page, server, dbaRule('DBA rejected'));
  const dave = await signedIn(otherBrowser, server, 'dave');
  const roles = new RolesPage(dave);
  await roles.request('DBA rejected', { justification: 'curious' });
  await expect(roles.waiting('DBA rejected')).toBeVisible();

  const frankPage = await signedIn(otherBrowser, server, 'frank', '/approvals/');
  const frank = new ApprovalsPage(frankPage, server.url);
  const card = frank.request('DBA rejected');
  await frank.decide(card, 'Reject');
  await expect(card.getByText('Say why you reject it: the requester reads the reason.')).toBeVisible();
  await expect(card.getByLabel(/Comment/)).toHaveAttribute('aria-invalid', 'true');
  await frank.decide(card, 'Reject', 'not during the change freeze');
  await expect(frank.nothing).toBeVisible();

  await expect(roles.history).toContainText('Reason: not during the change freeze', WITHIN);
  await expect(roles.history).toContainText('rejected');
  await expect(roles.waiting('DBA rejected')).toHaveCount(0);
  expect(isMember('jit-role-dba', 'dave')).toBe(false);
});

test('dave cancels his request; nobody has it to decide any more', async ({ page, otherBrowser, server }) => {
  await aliceMakesRule(page, server, dbaRule('DBA cancelled'));
  const dave = await signedIn(otherBrowser, server, 'dave');
  const roles = new RolesPage(dave);
  await roles.request('DBA cancelled', { justification: 'maybe later' });
  await roles.cancelButton('DBA cancelled').click();
  await expect(roles.history).toContainText('cancelled');
  await expect(roles.waiting('DBA cancelled')).toHaveCount(0);
  await expect(roles.requestButton('DBA cancelled')).toBeVisible();

  const frankPage = await signedIn(otherBrowser, server, 'frank', '/approvals/');
  await expect(new ApprovalsPage(frankPage, server.url).nothing).toBeVisible();
  // the approvers' app is a directory of the web root: without the slash, the server redirects
  await frankPage.goto(`${server.url}/approvals`);
  await expect(frankPage).toHaveURL(`${server.url}/approvals/`);
  await expect(new ApprovalsPage(frankPage, server.url).heading).toBeVisible();
});

test('dave breaks the glass; grace reviews it with a comment (required)', async ({ page, otherBrowser, server }) => {
  removeMember('jit-role-dba', 'dave');
  // break-glass tells every approver at once: the rule needs a channel that reaches them
  await new Shell(page, server.url).open('/roles', 'alice');
  const approversMail = await aliceMakesMailChannel(page, server, 'Approvers (glass)', 'dba-approvers@example.test');
  await aliceMakesRule(page, server, dbaRule('DBA glass', { breakGlass: true }, { approvalChannels: [approversMail] }), {
    signIn: false,
  });
  const dave = await signedIn(otherBrowser, server, 'dave');
  const roles = new RolesPage(dave);
  await roles.breakGlass('DBA glass', 'too short');
  await expect(roles.card('DBA glass').getByText('At least 20 characters: say what is on fire.')).toBeVisible();
  await roles.breakGlass('DBA glass', 'primary database down, nobody answers the phone');
  await expect(roles.confirmation('DBA glass')).toContainText('Granted through break-glass until');
  await expect(roles.countdown('DBA glass')).toContainText('left');
  expect(isMember('jit-role-dba', 'dave')).toBe(true);

  const gracePage = await signedIn(otherBrowser, server, 'grace');
  const grace = new ApprovalsPage(gracePage, server.url);
  // nothing pending, but a break-glass grant to review: the link shows
  await expect(grace.navLink).toBeVisible();
  await grace.navLink.click();
  const card = grace.request('DBA glass', { breakGlass: true });
  await expect(card).toContainText('primary database down, nobody answers the phone');
  await grace.decide(card, 'Acknowledge');
  await expect(card.getByText('Say what your review found.')).toBeVisible();
  await grace.decide(card, 'Acknowledge', 'checked the incident ticket');
  await expect(grace.nothing).toBeVisible();

  await dave.reload();
  await expect(dave.getByText('Break-glass access: reviewed by grace: checked the incident ticket.')).toBeVisible();
  removeMember('jit-role-dba', 'dave');
});

test('a start time: checked in the form, then a scheduled request dave can cancel', async ({
  page,
  otherBrowser,
  server,
}) => {
  await aliceMakesRule(page, server, {
    name: 'Web later', group: 'jit-role-web', allowSid: sidOf('dba-oncall'), defaultSeconds: 600, maxSeconds: 3600,
    maxLeadSeconds: 86_400,
  });
  const dave = await signedIn(otherBrowser, server, 'dave');
  const roles = new RolesPage(dave);
  const local = (ms) => {
    const d = new Date(Date.now() + ms);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  };
  const start = roles.card('Web later').getByLabel('Start (optional)');
  await roles.request('Web later', { start: local(-3_600_000) });
  await expect(roles.card('Web later').getByText('The start must not be in the past.')).toBeVisible();
  await expect(start).toHaveAttribute('aria-invalid', 'true');
  await roles.request('Web later', { start: local(2 * 86_400_000) });
  await expect(roles.card('Web later').getByText('At most 1 d ahead.', { exact: true })).toBeVisible();
  await roles.request('Web later', { start: local(3_600_000) });
  await expect(roles.waiting('Web later')).toContainText('Approved; waiting for its start');
  await expect(roles.waiting('Web later')).toContainText('starts');
  await roles.cancelButton('Web later').click();
  await expect(roles.history).toContainText('cancelled');
});

test('a scheduled request starts on its own at its start time, in real time', async ({ page, otherBrowser, server }) => {
  test.setTimeout(60_000);
  removeMember('jit-role-web', 'dave');
  const ruleId = await aliceMakesRule(page, server, {
    name: 'Web soon', group: 'jit-role-web', allowSid: sidOf('dba-oncall'), defaultSeconds: 600, maxSeconds: 3600,
    maxLeadSeconds: 86_400,
  });
  const dave = await signedIn(otherBrowser, server, 'dave');
  const startSeconds = Math.ceil(Date.now() / 1000) + 8;
  const asked = await requestThroughApi(dave, server, ruleId, 'deploy window', startSeconds);
  expect(asked, asked.message).toMatchObject({ status: '0' });
  const roles = new RolesPage(dave);
  await dave.reload();
  await expect(roles.waiting('Web soon')).toContainText('waiting for its start');
  expect(isMember('jit-role-web', 'dave')).toBe(false);

  // the scheduler starts it at its time; dave's page follows without a reload
  await expect(roles.countdown('Web soon')).toContainText('left', { timeout: 20_000 });
  expect(isMember('jit-role-web', 'dave')).toBe(true);
  removeMember('jit-role-web', 'dave');
});

test('an undecided request lapses when its pending window (5 minutes, the shortest) passes', async ({
  page,
  otherBrowser,
  server,
}) => {
  // the one test that waits out a window in real time: the shortest is 5 minutes
  test.setTimeout(420_000);
  await aliceMakesRule(page, server, dbaRule('DBA lapses', { windowSeconds: 300 }));
  const dave = await signedIn(otherBrowser, server, 'dave');
  const roles = new RolesPage(dave);
  await roles.request('DBA lapses', { justification: 'nobody will answer' });
  await expect(roles.waiting('DBA lapses')).toBeVisible();
  const frankPage = await signedIn(otherBrowser, server, 'frank', '/approvals/');
  const frank = new ApprovalsPage(frankPage, server.url);
  await expect(frank.request('DBA lapses')).toBeVisible();

  // the scheduler lapses it at the end of the window; dave's page follows without a reload
  await expect(roles.history).toContainText('lapsed', { timeout: 330_000 });
  await expect(roles.waiting('DBA lapses')).toHaveCount(0);
  await frankPage.reload();
  await expect(frank.request('DBA lapses')).toHaveCount(0);
  expect(isMember('jit-role-dba', 'dave')).toBe(false);
});
