// Page object for the app's shell: header navigation, connection banner, server footer.
import { expect } from './fixtures.js';
import { SignIn } from './sign-in-page.js';

export class Shell {
  constructor(page, baseUrl) {
    this.page = page;
    this.baseUrl = baseUrl;
    this.nav = page.getByRole('navigation', { name: 'Main' });
    // the app-wide banner, not a page's own error messages
    this.banner = page.getByRole('alert', { name: 'Connection' });
    this.version = page.getByTestId('server-version');
  }

  /** Opens `path`; the app sends the browser to sign in, which comes back to `path`. */
  async open(path = '/', account = 'alice') {
    await this.page.goto(`${this.baseUrl}${path}`);
    await new SignIn(this.page).as(account);
    await this.page.waitForURL(`${this.baseUrl}${path}`);
  }

  userName(name) {
    return this.page.locator('.site-header__user').getByText(name, { exact: true });
  }

  signOutButton() {
    return this.page.getByRole('button', { name: 'Sign out' });
  }

  navLink(name) {
    return this.nav.getByRole('link', { name, exact: true });
  }

  heading(name) {
    return this.page.getByRole('heading', { level: 1, name });
  }

  async expectVersion(version) {
    await expect(this.version).toHaveText(`jitroles ${version}`);
  }
}
