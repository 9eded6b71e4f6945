// The app's shell: it loads, shows the server's version from the ServerInfo RPC, routes deep
// links, and says so when the server cannot be reached.
import { test, expect, VERSION } from './fixtures.js';
import { Shell } from './shell-page.js';

test('app loads without console errors and shows the server version', async ({ page, server }) => {
  const problems = [];
  page.on('console', (msg) => {
    // the provider's login page is not ours (it asks for web fonts the tests block)
    if (msg.type() === 'error' && page.url().startsWith(server.url)) problems.push(msg.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));
  const shell = new Shell(page, server.url);

  await shell.open('/');

  await shell.expectVersion(VERSION);
  await expect(shell.heading('Roles')).toBeVisible();
  await expect(shell.nav).toBeVisible();
  await expect(shell.banner).toHaveCount(0);
  expect(problems).toEqual([]);
});

test('a deep link renders the right page', async ({ page, server }) => {
  const shell = new Shell(page, server.url);

  await shell.open('/admin/rules');

  await expect(shell.heading('Role rules')).toBeVisible();
  await expect(shell.navLink('Admin')).toHaveAttribute('aria-current', 'page');
  await shell.navLink('Roles').click();
  await expect(page).toHaveURL(`${server.url}/roles`);
  await expect(shell.heading('Roles')).toBeVisible();
  await expect(shell.navLink('Admin')).not.toHaveAttribute('aria-current', 'page');
});

test('an unknown path shows the not-found page', async ({ page, server }) => {
  const shell = new Shell(page, server.url);

  await shell.open('/no/such/page');

  await expect(shell.heading('Page not found')).toBeVisible();
  await expect(page.getByText('/no/such/page')).toBeVisible();
});

test('the error banner appears when the server stops and clears when it returns', async ({
  page,
  server,
}) => {
  const shell = new Shell(page, server.url);
  await shell.open('/roles');
  await shell.expectVersion(VERSION);
  await expect(page.locator('.loading')).toHaveCount(0);

  await server.stop();
  await expect(shell.banner).toContainText('Cannot reach the jitroles server', { timeout: 15_000 });
  await page.screenshot({ path: test.info().outputPath('server-down.png') });

  await server.start();
  await expect(shell.banner).toHaveCount(0, { timeout: 15_000 });
  await shell.expectVersion(VERSION);
  // a page whose data failed to load while the server was away loads it again by itself
  await expect(page.getByText('Cannot reach the jitroles server.')).toHaveCount(0, { timeout: 10_000 });
});
