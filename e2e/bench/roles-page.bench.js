// Release web app size, and navigation → interactive Roles page with 50 roles and 20 live
// grants, in Debian's Chromium against the real server (SQLite), the provider and Samba.
//
//   eval "$(scripts/ad up)"; eval "$(scripts/oidc up)"; frontend/build
//   cd e2e && npx playwright test -c bench.config.js
//
// "Interactive" = all 50 role cards and 20 running countdowns are on the page (the WASM app
// has loaded, WhoAmI, ListRoles and ListMyGrants have answered and rendered). 10 loads after
// one warm-up; the median and the worst are reported.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { test, expect } from '../tests/fixtures.js';
import { createRuleRequest, grpcWebFromPage, requestRoleRequest, stringField } from '../tests/grpc-web.js';
import { removeMember, sidOf } from '../tests/directory.js';
import { Shell } from '../tests/shell-page.js';

const ROLES = 50;
const LIVE = 20;
const LOADS = 10;
const APP = { 'x-jitroles-csrf': '1' };

test('web app size and time to an interactive Roles page', async ({ page, otherBrowser, server }) => {
  // the requesters' app (dist/) and the admin app (dist/admin/), built by frontend/build
  const root = path.resolve(process.env.JITROLES_WEB_ROOT || '../dist');
  for (const dist of [root, path.join(root, 'admin')]) {
    const wasm = readdirSync(dist).find((f) => f.endsWith('.wasm'));
    const raw = statSync(path.join(dist, wasm)).size;
    const gzip = gzipSync(readFileSync(path.join(dist, wasm)), { level: 9 }).length;
    console.log(`release wasm ${wasm}: ${(raw / 1024).toFixed(0)} KB raw, ${(gzip / 1024).toFixed(0)} KB gzip`);
  }

  removeMember('jit-role-dba', 'dave');
  removeMember('jit-role-web', 'dave');
  await new Shell(page, server.url).open('/roles', 'alice');
  const oncall = sidOf('dba-oncall');
  const ids = [];
  for (let i = 0; i < ROLES; i += 1) {
    const made = await grpcWebFromPage(page, server.url, 'jitroles.v1.AdminService/CreateRule', APP,
      createRuleRequest({
        name: `Role ${String(i).padStart(2, '0')}`,
        group: i % 2 ? 'jit-role-web' : 'jit-role-dba',
        allowSid: oncall,
        defaultSeconds: 3600,
        maxSeconds: 8 * 3600,
      }));
    expect(made.status, made.message).toBe('0');
    ids.push(stringField(made.reply, 1));
  }

  const dave = await otherBrowser();
  await new Shell(dave, server.url).open('/roles', 'dave');
  for (const id of ids.slice(0, LIVE)) {
    const granted = await grpcWebFromPage(dave, server.url, 'jitroles.v1.RoleService/RequestRole', APP,
      requestRoleRequest(id, 'benchmark'));
    expect(granted.status, granted.message).toBe('0');
  }

  const times = [];
  for (let i = 0; i <= LOADS; i += 1) {
    const t0 = Date.now();
    await dave.goto(`${server.url}/roles`);
    await expect(dave.getByRole('article')).toHaveCount(ROLES, { timeout: 30_000 });
    await expect(dave.getByRole('timer')).toHaveCount(LIVE);
    if (i > 0) times.push(Date.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(
    `navigation → interactive Roles page (${ROLES} roles, ${LIVE} live grants), ${LOADS} loads: ` +
      `median ${times[Math.floor(times.length / 2)]} ms, best ${times[0]} ms, worst ${times[times.length - 1]} ms`,
  );

  // leave the DC as it was (the server and its database are thrown away)
  removeMember('jit-role-dba', 'dave');
  removeMember('jit-role-web', 'dave');
});
