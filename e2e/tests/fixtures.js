// Test fixtures: a real jitroles server per test, and a page that may only talk to loopback.
import { test as base, expect } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BINARY = process.env.JITROLES_BIN || path.join(ROOT, 'target', 'debug', 'jitroles');
const WEB_ROOT = process.env.JITROLES_WEB_ROOT || path.join(ROOT, 'dist');

/** The workspace version, which the server reports. */
export const VERSION = /\[workspace\.package\][^[]*?version\s*=\s*"([^"]+)"/s.exec(
  readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8'),
)[1];

/** The directory and provider the server uses: started by scripts/ad and scripts/oidc. */
function stackEnv() {
  const need = (name) => {
    const value = process.env[name];
    if (!value) {
      throw new Error(`${name} is not set: run eval "$(scripts/ad up)"; eval "$(scripts/oidc up)" first (scripts/test does)`);
    }
    return value;
  };
  return {
    JITROLES_DIRECTORY_URL: need('AD_LDAPS_URL'),
    JITROLES_DIRECTORY_CA_FILE: need('AD_CA_FILE'),
    JITROLES_DIRECTORY_BIND_DN: need('AD_SVC_DN'),
    JITROLES_DIRECTORY_BIND_PASSWORD: need('AD_SVC_PASS'),
    JITROLES_OIDC_ISSUER: need('OIDC_ISSUER'),
    JITROLES_OIDC_AUDIENCE: need('OIDC_API_AUDIENCE'),
    JITROLES_OIDC_CLIENT_ID: need('OIDC_CLIENT_ID'),
    JITROLES_OIDC_CLIENT_SECRET: need('OIDC_CLIENT_SECRET'),
    JITROLES_ACCESS_ADMIN_GROUPS: 'jitroles-admins',
    // the SMTP sink and the webhook receivers listen on loopback
    JITROLES_NOTIFICATIONS_ALLOWED_NETWORKS: '127.0.0.0/8',
    // plain http on 127.0.0.1 only: the tests cannot serve https
    JITROLES_SESSION_INSECURE_LOCALHOST_COOKIE: 'true',
  };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilServing(url, child, deadlineMs = 20_000) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`jitroles exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`jitroles did not answer at ${url} within ${deadlineMs} ms`);
}

/** A jitroles process on a fixed port with its own data directory; can be stopped and restarted. */
class JitrolesServer {
  constructor(port, dataDir) {
    this.port = port;
    this.dataDir = dataDir;
    this.url = `http://127.0.0.1:${port}`;
    this.child = null;
    this.log = '';
  }

  async start() {
    this.child = spawn(BINARY, ['serve'], {
      env: {
        ...process.env,
        ...stackEnv(),
        JITROLES_SERVER_LISTEN: `127.0.0.1:${this.port}`,
        JITROLES_DATA_DIR: this.dataDir,
        JITROLES_SERVER_WEB_ROOT: WEB_ROOT,
        JITROLES_LOG_FORMAT: 'text',
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk) => {
      this.log += chunk.toString();
    };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
    await waitUntilServing(`${this.url}/`, this.child);
  }

  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

/** Only loopback: anything else would hang on this network or leak data. */
async function loopbackOnly(page) {
  await page.route(/^https?:\/\/(?!127\.0\.0\.1[:/]|localhost[:/])/, (route) => route.abort());
}

export const test = base.extend({
  server: async ({}, use, testInfo) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'jitroles-e2e-'));
    const server = new JitrolesServer(await freePort(), dataDir);
    await server.start();
    await use(server);
    await server.stop();
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('jitroles.log', { body: server.log, contentType: 'text/plain' });
    }
    rmSync(dataDir, { recursive: true, force: true });
  },

  page: async ({ page }, use) => {
    await loopbackOnly(page);
    await use(page);
  },

  /** Another person's browser: a fresh context (own cookies) with its own page. */
  otherBrowser: async ({ browser }, use) => {
    const contexts = [];
    await use(async () => {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      await loopbackOnly(page);
      return page;
    });
    await Promise.all(contexts.map((c) => c.close()));
  },
});

export { expect };
