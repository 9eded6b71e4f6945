// Page objects for signing in and out: the provider's login and logout pages (npm
// oidc-provider's development forms) and jitroles' own sign-in outcome pages.
import { expect } from './fixtures.js';

export class SignIn {
  constructor(page) {
    this.page = page;
    this.login = page.getByPlaceholder('Enter any login');
    this.password = page.getByPlaceholder('and password');
  }

  /** On the provider's login form: sign in as `account` (any password works there). */
  async as(account) {
    await expect(this.login).toBeVisible();
    await this.login.fill(account);
    await this.password.fill('any password');
    await this.page.getByRole('button', { name: 'Sign-in' }).click();
  }

  /** On the provider's "sign out?" page, after jitroles ended its own session. */
  async confirmProviderSignOut() {
    await this.page.getByRole('button', { name: 'Yes, sign me out' }).click();
  }

  outcome(title) {
    return this.page.getByRole('heading', { level: 1, name: title });
  }
}

/** The session cookie jitroles set in this browser context, if any. */
export async function sessionCookie(context) {
  return (await context.cookies()).find((c) => c.name === 'jitroles-session');
}

/** Calls `method` (e.g. 'jitroles.v1.RoleService/WhoAmI') with an empty message, as gRPC-web
 *  from inside the page; resolves to the gRPC status and message, or rejects like fetch. */
export async function grpcWebFromPage(page, url, method, extraHeaders = {}) {
  return page.evaluate(
    async ({ url, method, extraHeaders }) => {
      const res = await fetch(`${url}/${method}`, {
        method: 'POST',
        credentials: 'include',
        headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', ...extraHeaders },
        body: new Uint8Array([0, 0, 0, 0, 0]),
      });
      // an error comes as headers only; a success ends with a trailer frame (flag 0x80)
      let status = res.headers.get('grpc-status');
      let message = res.headers.get('grpc-message') || '';
      if (status === null) {
        const body = new Uint8Array(await res.arrayBuffer());
        for (let at = 0; at + 5 <= body.length; ) {
          const length = new DataView(body.buffer).getUint32(at + 1);
          if (body[at] & 0x80) {
            const trailer = new TextDecoder().decode(body.subarray(at + 5, at + 5 + length));
            status = /grpc-status:\s*(\d+)/.exec(trailer)?.[1] ?? null;
            message = /grpc-message:\s*(.*)/.exec(trailer)?.[1]?.trim() ?? '';
          }
          at += 5 + length;
        }
      }
      return { status, message: decodeURIComponent(message) };
    },
    { url, method, extraHeaders },
  );
}
