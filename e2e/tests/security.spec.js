// Browser hardening: every page of both apps runs under the server's Content-Security-Policy
// (inline loader allowed by hash, no 'unsafe-inline') without a single violation, and no other
// site can frame jitroles.
import { test, expect } from './fixtures.js';

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
  for (const path of PAGES) {
    const response = await page.goto(`${server.url}${path}`);
    // the app and its wasm are running: a heading is rendered by the app, not the HTML
    await expect(page.locator('h1').first()).toBeVisible();
    if (page.url().startsWith(server.url)) {
      const csp = response?.headers()['content-security-policy'] ?? '';
      if (response?.url().startsWith(server.url)) {
        expect(csp, path).toContain("frame-ancestors 'none'");
        expect(csp, path).not.toContain('unsafe-inline');
      }
    }
  }
  expect(violations).toEqual([]);
});

test('another site cannot frame jitroles', async ({ page, server }) => {
  const blocked = [];
  page.on('console', (msg) => blocked.push(msg.text()));
  // a page on another origin (served by the test itself) that tries to frame the app
  const evil = 'http://localhost:9/framer.html';
  await page.route(evil, (route) =>
    route.fulfill({ contentType: 'text/html', body: `<iframe src="${server.url}/roles"></iframe>` }),
  );
  const answered = page.waitForResponse((r) => r.url().startsWith(server.url));
  await page.goto(evil);
  const response = await answered;
  expect(response.headers()['x-frame-options']).toBe('DENY');
  await expect
    .poll(() => blocked.some((t) => /frame/i.test(t) && /ancestors|X-Frame-Options/i.test(t)))
    .toBe(true);
  const child = page.frames().find((f) => f !== page.mainFrame());
  expect(await child.locator('h1').count()).toBe(0);
});
