import type { Locator, Page } from '@playwright/test';
import {
  type Person,
  SocketWatch,
  bothInConversation,
  expect,
  freshAccount,
  gotoHydrated,
  incomingCall,
  messageLog,
  openDirectViaApi,
  saveScreenshot,
  sendMessage,
  signUp,
  test,
  twoPeople,
  withServerEnv,
} from '../fixtures';

// Calls between two browsers: Chromium's fake camera and microphone feed real
// RTCPeerConnections on loopback; the server rings, records and relays.
//
// Tests whose call is answered are marked slow: two browsers encode and decode video (or
// audio) in software beside two debug servers, and ICE, the first frames and the timer
// all take longer when the machine is busy.

/**
 * How long a call may take to connect, or its first remote frame to be decoded. Loopback
 * ICE takes well under a second on an idle machine; this is for a busy one.
 */
const MEDIA_TIMEOUT = 30_000;

/** A call's length as the app writes it: m:ss (a slow run can pass a minute). */
const DURATION = String.raw`\d+:[0-5]\d`;

function callView(page: Page): Locator {
  return page.locator('section.call-view');
}

async function startCall(p: Person, kind: 'video' | 'audio'): Promise<void> {
  await p.page.getByRole('button', { name: `Start ${kind} call` }).click();
}

function callButton(page: Page, kind: 'video' | 'audio'): Locator {
  return page.getByRole('button', { name: `Start ${kind} call`, exact: true });
}

/** The notice at the bottom that tells how a call went ("Ben declined the call."). */
function callNotice(page: Page): Locator {
  return page.locator('.call-notice[role="alert"]');
}

/** The call log lines (centered rows, not messages) of the open conversation. */
function callLog(page: Page): Locator {
  return messageLog(page).locator('.call-log');
}

/** A call log line with exactly this text (or matching this pattern). */
function callLogLine(page: Page, text: string | RegExp): Locator {
  return callLog(page).getByText(text, { exact: typeof text === 'string' ? true : undefined });
}

/** Ann calls Ben, Ben accepts, and both peer connections reach "connected". */
async function connectedCall(ann: Person, ben: Person, kind: 'video' | 'audio'): Promise<void> {
  await startCall(ann, kind);
  const modal = incomingCall(ben.page);
  await expect(modal).toBeVisible();
  await modal.getByRole('button', { name: 'Accept' }).click();
  await expect(modal).toBeHidden();
  for (const p of [ann, ben]) {
    await expect(callView(p.page)).toHaveAttribute('data-state', 'active');
    await expect(callView(p.page)).toHaveAttribute('data-connection-state', 'connected', { timeout: MEDIA_TIMEOUT });
  }
}

/** The call view's timer ("0:07") as seconds. */
async function timerSeconds(page: Page): Promise<number> {
  const text = (await callView(page).getByRole('status').textContent()) ?? '';
  if (!new RegExp(`^${DURATION}$`).test(text)) return NaN;
  const [minutes, seconds] = text.split(':').map(Number);
  return minutes * 60 + seconds;
}

/** Console errors and page errors of a page the fixtures do not watch (a second tab). */
function consoleErrorsOf(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/favicon\.ico/.test(msg.location().url)) errors.push(msg.text());
  });
  page.on('pageerror', (error) => errors.push(`[pageerror] ${error.message}`));
  return errors;
}

test('a video call connects both browsers, shows the remote video and logs its duration', async ({
  page,
  newSessionPage,
}) => {
  test.slow();
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
    await expect(callView(p.page)).toHaveAttribute('data-connection-state', 'connected', { timeout: MEDIA_TIMEOUT });
  }
  // Each really receives the other's video: the remote element has decoded frames of a
  // size. (Both ends are polled at once: each has its own decoder to start.)
  await Promise.all(
    [ben, ann].map((p) =>
      expect
        .poll(() => p.page.locator('#call-remote').evaluate((v: HTMLVideoElement) => v.videoWidth), {
          message: `${p.account.displayName}'s remote video has a width`,
          timeout: MEDIA_TIMEOUT,
        })
        .toBeGreaterThan(0),
    ),
  );
  // The timer runs: it shows a duration, and a later look shows a later one. (Which
  // second it shows depends on how long the steps above took.)
  let first = NaN;
  await expect
    .poll(async () => (first = await timerSeconds(ann.page)), { message: 'the call timer shows m:ss' })
    .toBeGreaterThanOrEqual(0);
  await expect.poll(() => timerSeconds(ann.page), { message: 'the call timer advances' }).toBeGreaterThan(first);
  await saveScreenshot(ben.page, 'call-active.png');

  await callView(ann.page).getByRole('button', { name: 'Hang up' }).click();
  for (const p of [ann, ben]) {
    await expect(callView(p.page)).toBeHidden();
    await expect(
      p.page.getByRole('log', { name: 'Messages' }).getByText(new RegExp(`^Video call · ${DURATION}$`)),
    ).toBeVisible();
  }
});

test('a declined call tells the caller and logs Call declined', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);

  await startCall(ann, 'video');
  await expect(callView(ann.page)).toHaveAttribute('data-state', 'ringing');
  const modal = incomingCall(ben.page);
  await expect(modal).toBeVisible();
  await modal.getByRole('button', { name: 'Decline' }).click();

  await expect(modal).toBeHidden();
  await expect(ben.page.locator('audio.ringtone')).toHaveCount(0);
  await expect(callView(ann.page)).toBeHidden();
  await expect(callNotice(ann.page).getByText(`${ben.account.displayName} declined the call.`, { exact: true })).toBeVisible();
  for (const p of [ann, ben]) {
    await expect(callLogLine(p.page, 'Call declined')).toBeVisible();
    await expect(callLog(p.page)).toHaveCount(1);
  }
  // Ann can call again: the buttons are back.
  await expect(callButton(ann.page, 'video')).toBeEnabled();
});

test('a call cancelled while ringing stops the ringing and logs Call cancelled', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);

  await startCall(ann, 'video');
  const modal = incomingCall(ben.page);
  await expect(modal).toBeVisible();
  await expect(modal.locator('audio.ringtone')).toHaveCount(1);
  await callView(ann.page).getByRole('button', { name: 'Cancel' }).click();

  await expect(callView(ann.page)).toBeHidden();
  await expect(modal).toBeHidden();
  await expect(ben.page.locator('audio.ringtone')).toHaveCount(0);
  for (const p of [ann, ben]) {
    await expect(callLogLine(p.page, 'Call cancelled')).toBeVisible();
    await expect(callLog(p.page)).toHaveCount(1);
  }
});

test.describe('with a 3 second ring timeout', () => {
  const test = withServerEnv({ NATTER_CALL_RING_TIMEOUT_SECS: '3' });

  test('an unanswered call is missed after the ring timeout', async ({ page, newSessionPage }) => {
    const [ann, ben] = await twoPeople(page, newSessionPage);
    await bothInConversation(ann, ben);

    await startCall(ann, 'video');
    const modal = incomingCall(ben.page);
    await expect(modal).toBeVisible();

    // Nobody does anything: the server gives up after 3 s.
    await expect(modal).toBeHidden({ timeout: 15_000 });
    await expect(ben.page.locator('audio.ringtone')).toHaveCount(0);
    await expect(callView(ann.page)).toBeHidden({ timeout: 15_000 });
    await expect(callNotice(ann.page).getByText(`${ben.account.displayName} did not answer.`, { exact: true })).toBeVisible();
    await expect(
      callNotice(ben.page).getByText(`Missed call from ${ann.account.displayName}.`, { exact: true }),
    ).toBeVisible();
    for (const p of [ann, ben]) {
      await expect(callLogLine(p.page, 'Missed video call')).toBeVisible();
      await expect(callLog(p.page)).toHaveCount(1);
    }
  });
});

test('calling someone who is already in a call is busy', async ({ page, newSessionPage }) => {
  test.slow();
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const carolPage = await newSessionPage();
  const carol: Person = { account: freshAccount('carol_', 'Carol'), page: carolPage, sockets: new SocketWatch(carolPage) };
  await signUp(carol.page, carol.account);
  await bothInConversation(ann, ben);
  await connectedCall(ann, ben, 'video');

  const carolsId = await openDirectViaApi(carol.page.request, carol.page.url(), ben.account);
  await gotoHydrated(carol.page, `/c/${carolsId}`);
  await carol.sockets.waitForSubscribed(carolsId);
  await callButton(carol.page, 'audio').click();

  await expect(callNotice(carol.page).getByText(`${ben.account.displayName} is on another call.`, { exact: true })).toBeVisible();
  await expect(callView(carol.page)).toBeHidden();
  await expect(callLogLine(carol.page, 'Audio call not answered: busy')).toBeVisible();
  // The server told Ben's tab about the busy call; it did not ring, and his call goes on.
  await expect
    .poll(
      () =>
        ben.sockets
          .allReceived()
          .some((f) => (f.event as { kind?: string; call?: { state?: string } } | undefined)?.call?.state === 'busy'),
      { message: "Ben's tab heard of Carol's busy call", timeout: 10_000 },
    )
    .toBe(true);
  await expect(incomingCall(ben.page)).toBeHidden();
  await expect(ben.page.locator('audio.ringtone')).toHaveCount(0);
  // Ben is told, above his call, without being interrupted.
  await expect(
    callNotice(ben.page).getByText(`${carol.account.displayName} tried to call you.`, { exact: true }),
  ).toBeVisible();
  await expect(callView(ben.page)).toHaveAttribute('data-state', 'active');
  await expect(callView(ben.page)).toHaveAttribute('data-connection-state', 'connected');
  await expect(callView(ann.page)).toHaveAttribute('data-connection-state', 'connected');

  await callView(ann.page).getByRole('button', { name: 'Hang up' }).click();
  for (const p of [ann, ben]) await expect(callView(p.page)).toBeHidden();
  // Ben finds the busy call in his conversation with Carol too.
  await gotoHydrated(ben.page, `/c/${carolsId}`);
  await expect(callLogLine(ben.page, 'Audio call not answered: busy')).toBeVisible();
});

test('every tab of the callee rings and the others stop when one accepts', async ({ page, newSessionPage }) => {
  test.slow();
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await bothInConversation(ann, ben);
  // Ben's second tab: same browser context, so same session, its own socket.
  const benTab2 = await ben.page.context().newPage();
  const tab2Errors = consoleErrorsOf(benTab2);
  const tab2Sockets = new SocketWatch(benTab2);
  await gotoHydrated(benTab2, `/c/${id}`);
  await tab2Sockets.waitForSubscribed(id);

  await startCall(ann, 'video');
  for (const tab of [ben.page, benTab2]) {
    const modal = incomingCall(tab);
    await expect(modal).toBeVisible();
    await expect(modal.getByRole('heading', { name: ann.account.displayName })).toBeVisible();
    await expect(modal.locator('audio.ringtone')).toHaveAttribute('loop', '');
  }

  await ben.page.bringToFront();
  await incomingCall(ben.page).getByRole('button', { name: 'Accept' }).click();

  await expect(incomingCall(benTab2)).toBeHidden();
  await expect(benTab2.locator('audio.ringtone')).toHaveCount(0);
  await expect(incomingCall(ben.page)).toBeHidden();
  for (const p of [ann.page, ben.page]) {
    await expect(callView(p)).toHaveAttribute('data-state', 'active');
    await expect(callView(p)).toHaveAttribute('data-connection-state', 'connected', { timeout: MEDIA_TIMEOUT });
  }
  await expect(callView(benTab2)).toHaveCount(0);

  await callView(ann.page).getByRole('button', { name: 'Hang up' }).click();
  for (const tab of [ann.page, ben.page, benTab2]) {
    await expect(callLogLine(tab, new RegExp(`^Video call · ${DURATION}$`))).toBeVisible();
  }
  await expect(callView(ben.page)).toBeHidden();
  expect(tab2Errors, "console errors in Ben's second tab").toEqual([]);
});

test('an audio call connects and logs Audio call with its duration', async ({ page, newSessionPage }) => {
  test.slow();
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);

  await startCall(ann, 'audio');
  await expect(incomingCall(ben.page).getByText('Incoming audio call…')).toBeVisible();
  await incomingCall(ben.page).getByRole('button', { name: 'Accept' }).click();
  for (const p of [ann, ben]) {
    const view = callView(p.page);
    await expect(view).toHaveAttribute('data-state', 'active');
    await expect(view).toHaveAttribute('data-connection-state', 'connected', { timeout: MEDIA_TIMEOUT });
    await expect(view).toHaveClass(/\baudio-only\b/);
    await expect(p.page.locator('#call-local')).toHaveCount(0);
    await expect(view.getByRole('button', { name: 'Camera off' })).toHaveCount(0);
  }
  // Ann hears Ben: the remote stream carries a live audio track and no video.
  await expect
    .poll(
      () =>
        ann.page.locator('#call-remote').evaluate((v: HTMLVideoElement) => {
          const stream = v.srcObject as MediaStream | null;
          if (!stream) return 'no stream';
          return `${stream.getAudioTracks().filter((t) => t.readyState === 'live').length} audio, ${stream.getVideoTracks().length} video`;
        }),
      { timeout: MEDIA_TIMEOUT },
    )
    .toBe('1 audio, 0 video');

  // Neither can start another call meanwhile.
  for (const p of [ann, ben]) {
    for (const kind of ['video', 'audio'] as const) {
      await expect(callButton(p.page, kind)).toBeDisabled();
      await expect(callButton(p.page, kind)).toHaveAttribute('title', 'You are already in a call.');
    }
  }

  const mute = callView(ann.page).getByRole('button', { name: 'Mute', exact: true });
  await expect(mute).toHaveAttribute('aria-pressed', 'false');
  await mute.click();
  const unmute = callView(ann.page).getByRole('button', { name: 'Unmute', exact: true });
  await expect(unmute).toHaveAttribute('aria-pressed', 'true');
  await saveScreenshot(ann.page, 'call-audio.png');

  await callView(ben.page).getByRole('button', { name: 'Hang up' }).click();
  for (const p of [ann, ben]) await expect(callView(p.page)).toBeHidden();
  await expect(
    callNotice(ann.page).getByText(new RegExp(`^Call with ${ben.account.displayName} ended · ${DURATION}$`)),
  ).toBeVisible();
  for (const p of [ann, ben]) {
    await expect(callLogLine(p.page, new RegExp(`^Audio call · ${DURATION}$`))).toBeVisible();
  }
});

test.describe('with calls switched off', () => {
  const test = withServerEnv({ NATTER_CALLS_ENABLED: 'false' });

  test('when calls are switched off the buttons say why', async ({ page, newSessionPage }) => {
    const [ann, ben] = await twoPeople(page, newSessionPage);
    await bothInConversation(ann, ben);
    for (const kind of ['video', 'audio'] as const) {
      await expect(callButton(ann.page, kind)).toBeDisabled();
      await expect(callButton(ann.page, kind)).toHaveAttribute('title', 'Calls are switched off on this server.');
    }
  });
});

test('a refused camera explains itself and rings nobody', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  // Ann's browser refuses the camera and microphone, as after "Block" in the permission prompt.
  await ann.page.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () =>
      Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
  });
  await bothInConversation(ann, ben);

  await startCall(ann, 'video');
  await expect(
    callNotice(ann.page).getByText(
      "Natter is not allowed to use your camera or microphone. Allow it in your browser's site settings and try again.",
      { exact: true },
    ),
  ).toBeVisible();
  await expect(callView(ann.page)).toHaveCount(0);
  await expect(callButton(ann.page, 'video')).toBeEnabled();

  // A message sent after the attempt reaches Ben over the same socket a ring would have:
  // once he has it, a ring would have arrived too.
  await sendMessage(ann.page, 'Did it ring?');
  await expect(messageLog(ben.page).getByText('Did it ring?', { exact: true })).toBeVisible();
  await expect(incomingCall(ben.page)).toBeHidden();
  await expect(ben.page.locator('audio.ringtone')).toHaveCount(0);
  for (const p of [ann, ben]) await expect(callLog(p.page)).toHaveCount(0);
});

test('a browser with no camera can only make audio calls', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  // Ann's browser lists a microphone and no camera.
  await ann.page.addInitScript(() => {
    navigator.mediaDevices.enumerateDevices = () =>
      Promise.resolve([{ kind: 'audioinput', deviceId: '', label: '', groupId: '' } as MediaDeviceInfo]);
  });
  await bothInConversation(ann, ben);

  await expect(callButton(ann.page, 'video')).toBeDisabled();
  await expect(callButton(ann.page, 'video')).toHaveAttribute('title', 'No camera found: try an audio call.');
  await expect(callButton(ann.page, 'audio')).toBeEnabled();
  await expect(callButton(ann.page, 'audio')).toHaveAttribute('title', 'Start audio call');

  // The audio call really rings.
  await callButton(ann.page, 'audio').click();
  await expect(incomingCall(ben.page).getByText('Incoming audio call…')).toBeVisible();
  await callView(ann.page).getByRole('button', { name: 'Cancel' }).click();
  await expect(incomingCall(ben.page)).toBeHidden();
});
