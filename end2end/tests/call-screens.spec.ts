import {
  bothInConversation,
  expect,
  saveScreenshot,
  test,
  twoPeople,
} from '../fixtures';

// Screenshots of the call screens in dark mode and on a phone-sized screen, for the eye.

test('the incoming-call modal and the call view fit a phone in dark mode', async ({ page, newSessionPage }) => {
  // A video call between two browsers (see calls.spec.ts): slow on a busy machine.
  test.slow();
  const [ann, ben] = await twoPeople(page, newSessionPage);
  for (const p of [ann, ben]) {
    await p.page.setViewportSize({ width: 390, height: 844 });
    await p.page.emulateMedia({ colorScheme: 'dark' });
  }
  await bothInConversation(ann, ben);
  await ann.page.getByRole('button', { name: 'Start video call' }).click();
  const modal = ben.page.getByRole('dialog');
  await expect(modal.getByRole('button', { name: 'Accept' })).toBeFocused();
  await saveScreenshot(ben.page, 'call-incoming-phone-dark.png');
  await saveScreenshot(ann.page, 'call-ringing-phone-dark.png');
  await modal.getByRole('button', { name: 'Accept' }).click();
  const view = ben.page.locator('section.call-view');
  await expect(view).toHaveAttribute('data-connection-state', 'connected', { timeout: 30_000 });
  await expect
    .poll(() => ben.page.locator('#call-remote').evaluate((v: HTMLVideoElement) => v.videoWidth), { timeout: 30_000 })
    .toBeGreaterThan(0);
  // Every control is on screen and reachable.
  for (const name of ['Mute', 'Camera off', 'Hang up']) {
    await expect(view.getByRole('button', { name })).toBeInViewport();
  }
  await saveScreenshot(ben.page, 'call-active-phone-dark.png');
  await view.getByRole('button', { name: 'Hang up' }).click();
  await expect(ann.page.getByRole('alert').filter({ hasText: 'ended' })).toBeVisible();
  await saveScreenshot(ann.page, 'call-ended-phone-dark.png');
});
