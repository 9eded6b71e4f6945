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
