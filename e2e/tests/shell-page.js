// Page object for the app's shell: header navigation, connection banner, server footer.
import { expect } from './fixtures.js';

export class Shell {
  constructor(page, baseUrl) {
    this.page = page;
    this.baseUrl = baseUrl;
    this.nav = page.getByRole('navigation', { name: 'Main' });
    this.banner = page.getByRole('alert');
    this.version = page.getByTestId('server-version');
  }

  async open(path = '/') {
    await this.page.goto(`${this.baseUrl}${path}`);
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
