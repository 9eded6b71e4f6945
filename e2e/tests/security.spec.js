// Browser hardening: every page of both apps runs under the server's Content-Security-Policy
// (inline loader allowed by hash, no 'unsafe-inline') without a single violation, and no other
// site can frame jitroles.
import { test, expect } from './fixtures.js';
import { Shell } from './shell-page.js';

const PAGES = [
  '/',
  '/roles',
  '/admin',
  '/admin/rules',
  '/admin/rules/new',
  '/admin/channels',
  '/admin/notifications',
  '/admin/grants',
  '/admin/audit',
  '/admin/directory',
];

test('every page loads with zero Content-Security-Policy violations', async ({ page, server }) => {
  const violations = [];
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) violations.push(msg.text());
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`Refused to load: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  await new Shell(page, server.url).open('/'); // signed in as alice, an admin
  for (const path of PAGES) {
    const response = await page.goto(`${server.url}${path}`);
    // the app and its wasm are running: the heading is rendered by the app, not the HTML
    await expect(page.locator('main h1').first()).toBeVisible();
    expect(page.url(), 'no detour to sign in').toContain(server.url);
    const csp = response.headers()['content-security-policy'];
    expect(csp, path).toContain("frame-ancestors 'none'");
    expect(csp, path).toContain("'wasm-unsafe-eval' 'sha256-");
    expect(csp, path).not.toContain('unsafe-inline');
  }
  expect(violations).toEqual([]);
});

test('no page can frame jitroles, not even its own', async ({ page, server }) => {
  const blocked = [];
  page.on('console', (msg) => blocked.push(msg.text()));
  await new Shell(page, server.url).open('/roles');
  await expect(page.locator('main h1').first()).toBeVisible();
  // a frame of the app inside the app: frame-ancestors 'none' refuses even its own origin, so
  // a page elsewhere (which the browser would also hold to its network rules) is refused too
  const framed = page.waitForResponse((r) => r.url() === `${server.url}/admin`);
  await page.evaluate(() => {
    const frame = document.createElement('iframe');
    frame.src = '/admin';
    document.body.appendChild(frame);
  });
  const response = await framed;
  expect(response.headers()['x-frame-options']).toBe('DENY');
  await expect
    .poll(() => blocked.some((t) => /frame/i.test(t) && /ancestors|X-Frame-Options/i.test(t)))
    .toBe(true);
  const child = page.frames().find((f) => f !== page.mainFrame());
  // the browser shows its own error page in the frame, never the app
  expect(child.url()).not.toContain(server.url);
  expect(await child.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
});
