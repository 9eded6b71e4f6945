// Notification channels in the browser: alice makes a mail channel, tests it against the real
// SMTP sink (scripts/smtp), sees a broken template refused with its position, saves it, and
// finds it among the rule editor's channels; a delivery that failed is sent again from the
// deliveries page once the channel is mended.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test, expect, freePort } from './fixtures.js';
import { DeliveriesPage, RuleEditor, WEB_DEPLOY } from './admin-pages.js';
import { daveHolds } from './api-setup.js';
import { removeMember } from './directory.js';
import { Shell } from './shell-page.js';

function mailsTo(address) {
  const outbox = process.env.SMTP_OUTBOX;
  if (!outbox) throw new Error('SMTP_OUTBOX is not set: run eval "$(scripts/smtp up)" first (scripts/test does)');
  return readFileSync(outbox, 'utf8')
    .split('\n')
    .filter((line) => line.endsWith('}'))
    .map((line) => JSON.parse(line))
    .filter((mail) => mail.rcpt_tos.includes(address));
}

/** Fills the mail channel form: `port` on the SMTP sink's host, plain SMTP. */
async function fillMailChannel(page, { name, port, recipient }) {
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('SMTP server (host name or address)').fill(process.env.SMTP_HOST);
  await page.getByLabel('Encryption').selectOption({ label: 'None (plain SMTP)' });
  await page.getByLabel('Port').fill(String(port));
  await page.getByLabel('Sender').fill('jitroles <jitroles@example.test>');
  await page.getByLabel('Recipients').fill(recipient);
}

/** Marks the server's pending notifications that already failed an attempt as failed, as
 *  the delivery worker does once its six attempts (2 s to ~8.5 min apart) have failed: the
 *  ~11 minutes of backoff are too long for a browser test. The server must be stopped. */
function exhaustRetries(dataDir) {
  const script = [
    'import sqlite3, sys',
    'db = sqlite3.connect(sys.argv[1])',
    "n = db.execute(\"update notifications set state = 'failed', attempts = 6, version = version + 1 "
      + "where state = 'pending' and attempts > 0\").rowcount",
    'db.commit()',
    'print(n)',
  ].join('\n');
  return Number(execFileSync('python3', ['-c', script, path.join(dataDir, 'jitroles.db')], { encoding: 'utf8' }));
}

test('alice makes a mail channel, tests it, and picks it for a rule', async ({ page, server }) => {
  const ops = `ops-${Date.now()}@example.test`;
  await new Shell(page, server.url).open('/admin/channels/new', 'alice');
  await expect(page.getByRole('heading', { level: 1, name: 'New channel' })).toBeVisible();
  await fillMailChannel(page, { name: 'Ops mail', port: process.env.SMTP_PORT, recipient: ops });

  await page.getByRole('button', { name: 'Send test' }).click();
  await expect(page.getByText('Delivered.')).toBeVisible();
  await expect.poll(() => mailsTo(ops).length).toBe(1);

  await page.getByLabel('Body template (HTML)').fill('<p>{{ rule }</p>');
  await page.getByRole('button', { name: 'Save channel' }).click();
  await expect(page.getByText(/line 1, column \d+/)).toBeVisible();
  await page.getByLabel('Body template (HTML)').fill('');
  await page.getByRole('button', { name: 'Save channel' }).click();
  await expect(page.getByRole('link', { name: 'Ops mail' })).toBeVisible();

  await page.goto(`${server.url}/admin/rules/new`);
  await expect(
    page.getByRole('group', { name: 'Notify on success (granted, extended)' }).getByLabel('Ops mail'),
  ).toBeVisible();
  await page.goto(`${server.url}/admin/notifications`);
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
});

test('a failed delivery is sent again once its channel is mended', async ({ page, otherBrowser, server }) => {
  test.setTimeout(120_000);
  removeMember('jit-role-web', 'dave');
  const ops = `ops-${Date.now()}@example.test`;
  // a port nothing listens on: every attempt is refused
  await new Shell(page, server.url).open('/admin/channels/new', 'alice');
  await fillMailChannel(page, { name: 'Ops mail', port: await freePort(), recipient: ops });
  await page.getByRole('button', { name: 'Save channel' }).click();
  await expect(page.getByRole('link', { name: 'Ops mail' })).toBeVisible();

  const editor = new RuleEditor(page, server.url);
  await editor.openNew();
  await editor.fill(WEB_DEPLOY);
  await page.getByRole('group', { name: 'Notify on success (granted, extended)' }).getByLabel('Ops mail').check();
  await editor.save();
  await expect(page).toHaveURL(`${server.url}/admin/rules`);
  const ruleId = (await page.getByRole('link', { name: 'Web deploy' }).getAttribute('href')).split('/').pop();
  await daveHolds(otherBrowser, server, ruleId);

  // the first attempt fails for real, with the transport's error
  const deliveries = new DeliveriesPage(page, server.url);
  await deliveries.open();
  await expect(async () => {
    await deliveries.show('All');
    await expect(deliveries.rows.filter({ hasText: 'Ops mail' })).toContainText(/Pending, next attempt/, { timeout: 1_000 });
    await expect(deliveries.rows.filter({ hasText: 'Ops mail' }).locator('.deliveries__error')).not.toBeEmpty({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });

  await server.stop();
  expect(exhaustRetries(server.dataDir)).toBe(1);
  await server.start();

  await deliveries.open(); // failed ones first
  const failed = deliveries.rows.filter({ hasText: 'Ops mail' });
  await expect(failed).toContainText('Failed');
  await expect(failed.getByRole('cell').nth(6)).toHaveText('6');

  // mend the channel: the SMTP sink's real port
  await page.goto(`${server.url}/admin/channels`);
  await page.getByRole('link', { name: 'Ops mail' }).click();
  await page.getByLabel('Port').fill(process.env.SMTP_PORT);
  await page.getByRole('button', { name: 'Save channel' }).click();
  await expect(page.getByRole('link', { name: 'Ops mail' })).toBeVisible();
  expect(mailsTo(ops)).toHaveLength(0);

  await deliveries.open();
  await page.getByRole('button', { name: 'Send again: Granted to Ops mail' }).click();
  await expect(deliveries.rows.filter({ hasText: 'Ops mail' })).toContainText(/Pending/);
  await expect.poll(() => mailsTo(ops).length, { timeout: 15_000 }).toBe(1);
  await deliveries.show('Sent');
  await expect(deliveries.rows.filter({ hasText: 'Ops mail' })).toContainText(/^.*Sent /);
  removeMember('jit-role-web', 'dave');
});
