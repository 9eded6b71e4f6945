// Page objects for the admin pages: the rule editor, the grants (live and past) and the
// notification deliveries; an accessibility check.
import AxeBuilder from '@axe-core/playwright';
import { expect } from './fixtures.js';

/** A rule on jit-role-web for dba-oncall, as the editor's form takes it. */
export const WEB_DEPLOY = {
  name: 'Web deploy',
  description: 'Deploy the web tier',
  group: 'jit-role-web',
  allow: 'dba-oncall',
  maxDuration: [1, 'hours'],
  defaultDuration: [10, 'minutes'],
};

export class RuleEditor {
  constructor(page, baseUrl) {
    this.page = page;
    this.baseUrl = baseUrl;
  }

  async openNew() {
    await this.page.goto(`${this.baseUrl}/admin/rules/new`);
    await expect(this.page.getByRole('heading', { level: 1, name: 'New rule' })).toBeVisible();
  }

  async pick(searchLabel, query, choice) {
    await this.page.getByLabel(searchLabel).fill(query);
    await this.page.getByLabel(searchLabel).press('Enter');
    await this.page.getByRole('button', { name: `Pick ${choice}` }).click();
  }

  async duration(label, amount, unit) {
    await this.page.getByLabel(label, { exact: true }).fill(String(amount));
    await this.page.getByLabel(`${label} unit`).selectOption({ label: unit });
  }

  async fill({ name, description, group, allow, defaultDuration, maxDuration, extension = true }) {
    await this.page.getByLabel('Name', { exact: true }).fill(name);
    await this.page.getByLabel(/^Description/).fill(description);
    await this.pick('Find the target group', group, `${group} (group ${group})`);
    await expect(this.page.getByTestId('target-group')).toHaveText(group);
    await this.pick('Find users and groups to allow or deny', allow, `${allow} (group ${allow})`);
    await expect(this.page.getByText(`Allow ${allow} (group)`)).toBeVisible();
    await this.duration('Maximum duration', ...maxDuration);
    await this.duration('Default duration', ...defaultDuration);
    if (extension) await this.page.getByLabel('Allow extension').check();
  }

  /** Adds a deny entry for the pick `choice` among the matches of `query`. */
  async deny(query, choice) {
    await this.page.getByLabel('Add the next pick as a deny entry').check();
    await this.pick('Find users and groups to allow or deny', query, choice);
  }

  async justification(policy) {
    await this.page.getByLabel('Justification', { exact: true }).selectOption({ label: policy });
  }

  /** The notes about the target group (protected, not writable by the service account). */
  groupWarning() {
    return this.page.locator('.rule-editor').getByRole('note');
  }

  async save() {
    await this.page.getByRole('button', { name: 'Save rule' }).click();
  }
}

/** Everyone's grants: live by default, filtered by person, role and state. */
export class GrantsPage {
  constructor(page, baseUrl) {
    this.page = page;
    this.baseUrl = baseUrl;
    this.table = page.getByRole('table', { name: 'Grants' });
    this.rows = this.table.locator('tbody').getByRole('row');
    this.noMatch = page.getByText('No grants match.');
  }

  async open() {
    await this.page.goto(`${this.baseUrl}/admin/grants`);
    await expect(this.page.getByRole('heading', { level: 1, name: 'Grants' })).toBeVisible();
  }

  /** Sets the filters (a role by its name; a state by its label) and applies them. */
  async filter({ person = '', role = 'any', state = 'Live' } = {}) {
    await this.page.getByLabel('Person (account or SID)').fill(person);
    await this.page.getByLabel('Role', { exact: true }).selectOption({ label: role });
    await this.page.getByLabel('State', { exact: true }).selectOption({ label: state });
    await this.page.getByRole('button', { name: 'Filter' }).click();
  }

  row(role) {
    return this.rows.filter({ hasText: role });
  }
}

/** The notification outbox: failed deliveries first, Send again. */
export class DeliveriesPage {
  constructor(page, baseUrl) {
    this.page = page;
    this.baseUrl = baseUrl;
    this.table = page.getByRole('table', { name: 'Notification deliveries' });
    this.rows = this.table.locator('tbody').getByRole('row');
  }

  async open() {
    await this.page.goto(`${this.baseUrl}/admin/notifications`);
    await expect(this.page.getByRole('heading', { level: 1, name: 'Notification deliveries' })).toBeVisible();
  }

  async show(state) {
    await this.page.getByLabel('State', { exact: true }).selectOption({ label: state });
    await this.page.getByRole('button', { name: 'Show' }).click();
  }
}

/** Fails on serious or critical accessibility violations on the current page. */
export async function expectAccessible(page) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const bad = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  expect(bad, `accessibility violations on ${page.url()}`).toEqual([]);
}
