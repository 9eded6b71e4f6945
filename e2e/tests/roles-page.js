// Page object for the Roles page: role cards with the request form, live grants, history.
export class RolesPage {
  constructor(page) {
    this.page = page;
    this.history = page.getByRole('table', { name: 'Past grants' });
    this.noRoles = page.getByText('There is no role you may request');
  }

  card(role) {
    return this.page.getByRole('article', { name: role });
  }

  async request(role, { justification = '', amount, unit, start } = {}) {
    const card = this.card(role);
    if (start !== undefined) await card.getByLabel('Start (optional)').fill(start);
    if (amount !== undefined) await card.getByLabel('Duration', { exact: true }).fill(String(amount));
    if (unit !== undefined) await card.getByLabel('Duration unit').selectOption({ label: unit });
    if (justification) await card.getByLabel(/Justification/).fill(justification);
    await card.getByRole('button', { name: 'Request' }).click();
  }

  /** A request of `role` that waits for approval or its start, on My access. */
  waiting(role) {
    return this.page.getByRole('list', { name: 'Requests that wait' }).getByRole('listitem').filter({ hasText: role });
  }

  cancelButton(role) {
    return this.page.getByRole('button', { name: `Cancel request for ${role}` });
  }

  /** Break-glass: access now for `reason`, from the role's separate break-glass form. */
  async breakGlass(role, reason) {
    const card = this.card(role);
    await card.getByLabel(/Break-glass reason/).fill(reason);
    await card.getByRole('button', { name: 'Break glass' }).click();
  }

  /** Why requests of the role are frozen (an admin's freeze), on its card. */
  frozen(role) {
    return this.card(role).getByRole('note');
  }

  requestButton(role) {
    return this.card(role).getByRole('button', { name: 'Request' });
  }

  confirmation(role) {
    return this.card(role).getByRole('status');
  }

  countdown(role) {
    return this.page.getByRole('timer', { name: `Time left for ${role}` });
  }

  extendButton(role) {
    return this.page.getByRole('button', { name: `Extend ${role}` });
  }

  releaseButton(role) {
    return this.page.getByRole('button', { name: `Release ${role}` });
  }

  /** How long Kerberos tickets may outlast the live grant of `role` (the scheduler only). */
  kerberosNote(role) {
    return this.page
      .getByRole('listitem')
      .filter({ has: this.countdown(role) })
      .getByText(/Access through Kerberos tickets issued before the end may last until/);
  }
}
