// Page objects for the admin pages: the rules list and editor, live grants, audit log.
import AxeBuilder from '@axe-core/playwright';
import { expect } from './fixtures.js';

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

  async save() {
    await this.page.getByRole('button', { name: 'Save rule' }).click();
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
