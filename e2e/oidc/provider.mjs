// The OpenID Connect provider for jitroles' tests and demo (npm oidc-provider 9), with the test
// population of shared/DESIGN.md. Not for production: accounts are fixed, any password works
// on the dev login form, and state lives in memory.
//
//   node e2e/oidc/provider.mjs        env: OIDC_PORT (9090), OIDC_KEYS (signing key file),
//                                           JITROLES_CLIENT_SECRET, CI_BOT_SECRET
//
// Clients:
//   jitroles  the server's browser sign-in (backend-for-frontend): confidential, code + PKCE,
//             redirect to http://127.0.0.1:<any port>/auth/callback (RFC 8252 7.3: loopback
//             redirects may use any port, so tests can run servers on free ports)
//   ci-bot    a service: client credentials, JWT access tokens for the jitroles API
//             (jitroles maps it to the directory account svc-ci)
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import Provider, { errors } from 'oidc-provider';

const PORT = Number(process.env.OIDC_PORT || 9090);
const ISSUER = `http://127.0.0.1:${PORT}`;
export const API_AUDIENCE = 'urn:jitroles:api';
const KEYS_FILE = process.env.OIDC_KEYS || new URL('./signing-keys.json', import.meta.url).pathname;
const JITROLES_SECRET = process.env.JITROLES_CLIENT_SECRET || 'jitroles-test-secret';
const CI_BOT_SECRET = process.env.CI_BOT_SECRET || 'ci-bot-test-secret';

// preferred_username equals the sAMAccountName in the directory (DESIGN.md)
const ACCOUNTS = {
  alice: { name: 'Alice Admin' },
  bob: { name: 'Bob Outsider' },
  carol: { name: 'Carol Permanent' },
  dave: { name: 'Dave Dba' },
  erin: { name: 'Erin Disabled' },
  'svc-ci': { name: 'CI Service' },
  frank: { name: 'Frank Approver' },
  grace: { name: 'Grace Approver' },
};

// One RSA signing key, made once and kept, so `kid` is stable across restarts and tests can
// read the key to craft tokens the provider would never issue.
function signingKeys() {
  if (existsSync(KEYS_FILE)) return JSON.parse(readFileSync(KEYS_FILE, 'utf8'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'jitroles-test-rs256', use: 'sig', alg: 'RS256' };
  const jwks = { keys: [jwk] };
  writeFileSync(KEYS_FILE, JSON.stringify(jwks), { mode: 0o600 });
  return jwks;
}

const provider = new Provider(ISSUER, {
  jwks: signingKeys(),
  cookies: { keys: ['jitroles-test-cookie-key'] },
  clients: [
    {
      client_id: 'jitroles',
      client_secret: JITROLES_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // the demo, and the installed package over TLS (scripts/package-test)
      redirect_uris: [`http://127.0.0.1:8080/auth/callback`, `https://localhost:8443/auth/callback`],
      post_logout_redirect_uris: [`http://127.0.0.1:8080/auth/signed-out`, `https://localhost:8443/auth/signed-out`],
    },
    {
      client_id: 'ci-bot',
      client_secret: CI_BOT_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ],
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email'],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: false, // profile claims in the ID token: no userinfo round trip
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          name: account.name,
          preferred_username: id,
          email: `${id}@example.test`,
          email_verified: true,
        };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf ?? API_AUDIENCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resource) => {
        if (resource !== API_AUDIENCE) throw new errors.InvalidTarget();
        return {
          scope: 'jitroles',
          audience: API_AUDIENCE,
          accessTokenTTL: 10 * 60,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, ClientCredentials: 600, Interaction: 600, Session: 3600, Grant: 3600 },
  // first-party app: no consent screen
  async loadExistingGrant(ctx) {
    const existing = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email');
    await grant.save();
    return grant;
  },
});

// RFC 8252 7.3: a loopback redirect URI may use any port.
const loopbackCallback = /^http:\/\/127\.0\.0\.1:\d{1,5}\/auth\/callback$/;
const loopbackHome = /^http:\/\/127\.0\.0\.1:\d{1,5}\/(auth\/signed-out)?$/;
const { Client } = provider;
const redirectUriAllowed = Client.prototype.redirectUriAllowed;
Client.prototype.redirectUriAllowed = function allowLoopback(uri) {
  return (this.clientId === 'jitroles' && loopbackCallback.test(uri)) || redirectUriAllowed.call(this, uri);
};
const postLogoutRedirectUriAllowed = Client.prototype.postLogoutRedirectUriAllowed;
Client.prototype.postLogoutRedirectUriAllowed = function allowLoopbackHome(uri) {
  return (this.clientId === 'jitroles' && loopbackHome.test(uri)) || postLogoutRedirectUriAllowed.call(this, uri);
};

provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(PORT, '127.0.0.1', () => console.log(`oidc-provider ready at ${ISSUER}`));
