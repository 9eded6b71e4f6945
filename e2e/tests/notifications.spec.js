// Notification channels in the browser: alice makes a mail channel, tests it against the real
// SMTP sink (scripts/smtp), sees a broken template refused with its position, saves it, and
// finds it among the rule editor's channels; the deliveries page opens.
import { readFileSync } from 'node:fs';
import { test, expect } from './fixtures.js';
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

test('alice makes a mail channel, tests it, and picks it for a rule', async ({ page, server }) => {
  const ops = `ops-${Date.now()}@example.test`;
  await new Shell(page, server.url).open('/admin/channels/new', 'alice');
  await expect(page.getByRole('heading', { level: 1, name: 'New channel' })).toBeVisible();
  await page.getByLabel('Name', { exact: true }).fill('Ops mail');
  await page.getByLabel('SMTP server (host name or address)').fill(process.env.SMTP_HOST);
  await page.getByLabel('Encryption').selectOption({ label: 'None (plain SMTP)' });
  await page.getByLabel('Port').fill(process.env.SMTP_PORT);
  await page.getByLabel('Sender').fill('jitroles <jitroles@example.test>');
  await page.getByLabel('Recipients').fill(ops);

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
