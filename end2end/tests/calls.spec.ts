import type { Locator, Page } from '@playwright/test';
import {
  type Person,
  bothInConversation,
  expect,
  messageInLog,
  saveScreenshot,
  test,
  twoPeople,
} from '../fixtures';

// Calls between two browsers: Chromium's fake camera and microphone feed real
// RTCPeerConnections on loopback; the server rings, records and relays.

function incomingCall(page: Page): Locator {
  return page.getByRole('dialog', { name: /./ }).filter({ has: page.getByRole('button', { name: 'Accept' }) });
}

function callView(page: Page): Locator {
  return page.locator('section.call-view');
}

async function startCall(p: Person, kind: 'video' | 'audio'): Promise<void> {
  await p.page.getByRole('button', { name: `Start ${kind} call` }).click();
}

test('a video call connects both browsers, shows the remote video and logs its duration', async ({
  page,
  newSessionPage,
}) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);

  await startCall(ann, 'video');
  await expect(callView(ann.page)).toHaveAttribute('data-state', 'ringing');
  await expect(callView(ann.page).getByText('Ringing…')).toBeVisible();
  await expect(callView(ann.page).getByRole('button', { name: 'Cancel' })).toBeVisible();

  const modal = incomingCall(ben.page);
  await expect(modal).toBeVisible();
  await expect(modal).toHaveAttribute('aria-modal', 'true');
  await expect(modal.getByRole('heading', { name: ann.account.displayName })).toBeVisible();
  await expect(modal.getByText('Incoming video call…')).toBeVisible();
  await expect(modal.getByRole('button', { name: 'Accept' })).toBeFocused();
  await expect(modal.locator('audio.ringtone')).toHaveAttribute('loop', '');
  await saveScreenshot(ben.page, 'call-incoming.png');

  await modal.getByRole('button', { name: 'Accept' }).click();
  await expect(modal).toBeHidden();
  for (const p of [ann, ben]) {
    await expect(callView(p.page)).toHaveAttribute('data-state', 'active');
    await expect(callView(p.page)).toHaveAttribute('data-connection-state', 'connected', { timeout: 20_000 });
  }
  // Ben really receives Ann's video: the remote element has decoded frames of a size.
  await expect
    .poll(() => ben.page.locator('#call-remote').evaluate((v: HTMLVideoElement) => v.videoWidth), {
      message: "Ben's remote video has a width",
      timeout: 15_000,
    })
    .toBeGreaterThan(0);
  await expect
    .poll(() => ann.page.locator('#call-remote').evaluate((v: HTMLVideoElement) => v.videoWidth), {
      timeout: 15_000,
    })
    .toBeGreaterThan(0);
  // The timer runs.
  await expect(callView(ann.page).getByRole('status')).toHaveText(/^0:0[1-9]$/, { timeout: 10_000 });
  await saveScreenshot(ben.page, 'call-active.png');

  await callView(ann.page).getByRole('button', { name: 'Hang up' }).click();
  for (const p of [ann, ben]) {
    await expect(callView(p.page)).toBeHidden();
    await expect(p.page.getByRole('log', { name: 'Messages' }).getByText(/^Video call · 0:[0-5]\d$/)).toBeVisible();
  }
});
