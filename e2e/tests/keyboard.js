// Keyboard-only driving: Tab from control to control, checking at every stop that the focus
// is visible (a :focus-visible outline), as a sighted keyboard user needs it.
import { expect } from './fixtures.js';

/** Presses Tab until `target` has the focus; fails at the first stop without a visible focus
 *  outline, or when `target` is not reached within `limit` presses. */
export async function tabTo(page, target, limit = 60) {
  for (let i = 0; i < limit; i += 1) {
    await page.keyboard.press('Tab');
    const shown = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return { visible: true };
      // a date field's calendar button lives in the browser's own shadow tree: focused, it
      // leaves the field neither :focus nor :focus-visible, and the browser draws its ring
      if (el.matches('input[type="datetime-local"], input[type="date"]') && !el.matches(':focus')) {
        return { visible: true };
      }
      const style = getComputedStyle(el);
      return {
        visible: el.matches(':focus-visible') && style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
        what: `${el.tagName.toLowerCase()}#${el.id} ${(el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 60)}`,
      };
    });
    expect(shown.visible, `the focused element (${shown.what}) shows a focus outline`).toBe(true);
    if (await target.evaluate((el) => el === document.activeElement)) return;
  }
  throw new Error(`never reached the control by Tab within ${limit} presses`);
}
