// The usage report in the browser (issue 19, item 4): alice opens the Usage report, sees a
// role's figures and the people its ACL reaches who never asked for it (through nested groups,
// the disabled account left out), and downloads the same report as CSV, whose formula-like
// cell a spreadsheet will not run. No membership is written: the DC stays as other tests
// expect it.
import { readFileSync } from 'node:fs';
import { test, expect } from './fixtures.js';
import { aliceMakesRule } from './api-setup.js';
import { expectAccessible } from './admin-pages.js';

const RULE = { name: '=Usage, DBA', group: 'jit-role-dba', defaultSeconds: 600, maxSeconds: 3600 };

test('alice reads the usage report of a role nobody used and downloads it as CSV', async ({ page, server }) => {
  await aliceMakesRule(page, server, RULE);
  await page.goto(`${server.url}/admin`);
  await page.getByRole('link', { name: 'Usage report' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Usage report' })).toBeVisible();
  await page.getByLabel('Unused for (days)').fill('30');
  await page.getByRole('button', { name: 'Show report' }).click();
  await expect(page.getByText('"unused" means not requested in the last 30 days.')).toBeVisible();

  const row = page.getByRole('row', { name: /=Usage, DBA/ });
  // role, requests, grants, refusals, hours, people, median, last use, eligible but unused
  await expect(row.getByRole('cell')).toHaveText(['0', '0', '0', '0.00', '0', '–', 'never', '2']);
  const unused = page.getByRole('region', { name: 'Eligible but unused: =Usage, DBA' });
  await expect(unused.getByRole('listitem')).toHaveText([
    'dave (Dave Dba): dave ← dba-team ← dba-oncall',
    /^svc-ci \(.*\): svc-ci ← dba-oncall$/,
  ]);
  await expectAccessible(page);

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download CSV' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('jitroles-usage.csv');
  const lines = readFileSync(await download.path(), 'utf8').split('\r\n');
  expect(lines[0]).toBe('rule,rule_id,from,to,requests,grants,refusals,hours_held,people,median_hours,'
    + 'last_use,unused_days,eligible_unused_count,eligible_unused_truncated,eligible_unused');
  // quoted for its comma, and a leading ' so a spreadsheet does not run it
  expect(lines[1]).toMatch(/^"'=Usage, DBA",[0-9a-f-]+,[^,]+,[^,]+,0,0,0,0\.00,0,,,30,2,false,dave svc-ci$/);
  expect(lines[2]).toBe('');
});
