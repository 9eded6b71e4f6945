// Browser sign-in through the real provider and the directory: sign in and come back, who is
// shown, sign out everywhere, a replayed cookie, a disabled account, a non-admin, and a page
// on another origin trying to use the session.
import http from 'node:http';
import { test, expect, freePort } from './fixtures.js';
import { Shell } from './shell-page.js';
import { grpcWebFromPage } from './grpc-web.js';
import { SignIn, sessionCookie } from './sign-in-page.js';

const WHO_AM_I = 'jitroles.v1.RoleService/WhoAmI';
const SEARCH_DIRECTORY = 'jitroles.v1.AdminService/SearchDirectory';
const UNAUTHENTICATED = '16';
const PERMISSION_DENIED = '7';

test('signing in returns to the page asked for; signing out ends the session for good', async ({
  page,
  context,
  server,
}) => {
  const shell = new Shell(page, server.url);
  const signIn = new SignIn(page);

  await shell.open('/admin/rules', 'alice');

  await expect(shell.heading('Role rules')).toBeVisible();
  await expect(shell.userName('Alice Admin')).toBeVisible();
  await expect(shell.navLink('Admin')).toBeVisible();
  const cookie = await sessionCookie(context);
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
  await page.screenshot({ path: test.info().outputPath('signed-in.png') });

  await shell.signOutButton().click();
  await signIn.confirmProviderSignOut();
  await expect(signIn.outcome('Signed out')).toBeVisible();
  expect(page.url()).toBe(`${server.url}/auth/signed-out`);
  expect(await sessionCookie(context)).toBeUndefined();

  // the old cookie, put back, opens nothing
  await context.addCookies([cookie]);
  const replayed = await grpcWebFromPage(page, server.url, WHO_AM_I, { 'x-jitroles-csrf': '1' });
  expect(replayed.status).toBe(UNAUTHENTICATED);
  expect(replayed.message).toContain('signed out');

  // and the app asks to sign in again, at the provider too
  await page.goto(`${server.url}/roles`);
  await expect(signIn.login).toBeVisible();
});

test('someone outside the admin groups sees no admin navigation and is refused admin calls', async ({
  page,
  server,
}) => {
  const shell = new Shell(page, server.url);

  await shell.open('/roles', 'bob');

  await expect(shell.userName('Bob Outsider')).toBeVisible();
  await expect(shell.navLink('Roles')).toBeVisible();
  await expect(shell.navLink('Admin')).toHaveCount(0);
  const refused = await grpcWebFromPage(page, server.url, SEARCH_DIRECTORY, { 'x-jitroles-csrf': '1' });
  expect(refused.status).toBe(PERMISSION_DENIED);

  await page.goto(`${server.url}/admin`);
  await expect(shell.heading('Administrators only')).toBeVisible();
});

test('a disabled directory account is refused at sign-in with the reason', async ({ page, server }) => {
  const signIn = new SignIn(page);

  await page.goto(`${server.url}/`);
  await signIn.as('erin');

  await expect(signIn.outcome('Sign-in refused')).toBeVisible();
  await expect(page.getByText('the directory account erin is disabled')).toBeVisible();
  await page.screenshot({ path: test.info().outputPath('disabled-refused.png') });
});

test('a page on another origin cannot use the session cookie', async ({ page, context, server }) => {
  const shell = new Shell(page, server.url);
  await shell.open('/roles', 'dave');
  await expect(shell.userName('Dave Dba')).toBeVisible();

  // another origin on the same host: same site, so the browser does send the Lax cookie
  const evilPort = await freePort();
  const evil = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!DOCTYPE html><title>elsewhere</title><p>another site</p>');
  });
  await new Promise((resolve) => evil.listen(evilPort, '127.0.0.1', resolve));
  const evilOrigin = `http://127.0.0.1:${evilPort}`;
  try {
    await page.goto(`${evilOrigin}/`);

    // with the app's header the browser must ask first (CORS preflight), and jitroles says no
    const blocked = grpcWebFromPage(page, server.url, WHO_AM_I, { 'x-jitroles-csrf': '1' });
    await expect(blocked).rejects.toThrow(/Failed to fetch/);

    // the same call made outside the browser's rules, with the cookie and the foreign Origin
    const forged = await context.request.post(`${server.url}/${WHO_AM_I}`, {
      headers: {
        origin: evilOrigin,
        'content-type': 'application/grpc-web+proto',
        'x-grpc-web': '1',
        'x-jitroles-csrf': '1',
      },
      data: Buffer.from([0, 0, 0, 0, 0]),
    });
    expect(forged.headers()['grpc-status']).toBe(PERMISSION_DENIED);
    expect(decodeURIComponent(forged.headers()['grpc-message'])).toContain('cross-origin call refused');
  } finally {
    evil.close();
  }

  // from the app's own origin the same session works
  await page.goto(`${server.url}/roles`);
  const fine = await grpcWebFromPage(page, server.url, WHO_AM_I, { 'x-jitroles-csrf': '1' });
  expect(fine.status).toBe('0');
});
