// Page object for the Approvals page (the approvers' app, /approvals/): the requests an
// approver may decide and the break-glass grants that wait for a review.
import { expect } from './fixtures.js';

export class ApprovalsPage {
  constructor(page, baseUrl) {
    this.page = page;
    this.baseUrl = baseUrl;
    this.heading = page.getByRole('heading', { level: 1, name: 'Approvals' });
    this.status = page.locator('.approvals-page__count');
    this.nothing = page.getByText('Nothing to decide or review.');
    this.navLink = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^Approvals/ });
    this.navCount = page.getByTestId('approvals-count');
  }

  async open() {
    await this.page.goto(`${this.baseUrl}/approvals/`);
    await expect(this.heading).toBeVisible();
  }

  /** The card of `who`'s request (or break-glass grant) for `role`. */
  request(role, { breakGlass = false } = {}) {
    const name = breakGlass ? new RegExp(`took ${role} through break-glass`) : new RegExp(`asks for ${role}`);
    return this.page.getByRole('article', { name });
  }

  async decide(card, button, text = '') {
    await card.getByLabel(/Comment|Review comment/).fill(text);
    await card.getByRole('button', { name: button, exact: true }).click();
  }
}
