import {
  type NewAccount,
  type Person,
  HTTP_4XX_RESOURCE_ERROR,
  SocketWatch,
  bothInConversation,
  callServerFn,
  chatWindow,
  composer,
  expect,
  freshAccount,
  gotoHydrated,
  heardAllSentSoFar,
  incomingCall,
  messageInLog,
  settled,
  signUpViaApi,
  test,
  twoPeople,
  typingIndicator,
  uniqueName,
  waitForHydration,
  withServerEnv,
} from '../fixtures';
import { OpenedSockets } from '../raw-socket';

// What went wrong when Natter was used by newcomers and attacked over its own API and
// WebSocket, each as a behaviour that must hold.

const sockets = new OpenedSockets();
test.afterEach(() => sockets.destroyAll());

/** Frames of one kind of event that a page's sockets received. */
function eventsOf(watch: SocketWatch, kind: string): Record<string, unknown>[] {
  return watch
    .allReceived()
    .filter((f) => f.type === 'event' && (f.event as { kind?: string } | undefined)?.kind === kind)
    .map((f) => f.event as Record<string, unknown>);
}

test('nobody sees themselves typing, on any of their tabs', async ({ page, newSessionPage }) => {
  test.slow();
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await bothInConversation(ann, ben);
  // Ann's second tab, in the same browser (same session).
  const second = await ann.page.context().newPage();
  const secondWatch = new SocketWatch(second);
  await gotoHydrated(second, `/c/${id}`);
  await secondWatch.waitForSubscribed(id);

  await composer(ann.page).pressSequentially('hello', { delay: 0 });
  await expect(typingIndicator(ben.page, ann.account.displayName)).toHaveText(
    `${ann.account.displayName} is typing…`,
  );
  // The name is isolated from the words around it. (Looked at while it shows: it expires 5 s
  // after Ann's last typing update.)
  await expect(typingIndicator(ben.page, ann.account.displayName).locator('bdi')).toHaveText(
    ann.account.displayName,
  );
  // Ben heard it, so the server has fanned it out: Ann's own tab got nothing. (Checked once
  // that tab has everything the server sent it up to now, and has applied it.)
  await heardAllSentSoFar(second, secondWatch);
  await settled(second);
  expect(eventsOf(secondWatch, 'typing'), "Ann's second tab was told Ann is typing").toEqual([]);
  await expect(typingIndicator(second, ben.account.displayName)).toHaveText('');
});

test('a tab opened hidden is announced away, not online', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await bothInConversation(ann, ben);
  await ann.page.close();
  // Ann opens Natter in a background tab: hidden from its first moment.
  const hidden = await newSessionPage();
  await hidden.context().addCookies(await page.context().cookies());
  await hidden.addInitScript(() => {
    Object.defineProperty(document, 'hidden', { get: () => true });
    Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
  });
  const watch = new SocketWatch(hidden);
  await gotoHydrated(hidden, `/c/${id}`);
  await watch.waitForConnected();
  expect(watch.sockets[watch.sockets.length - 1].url).toContain('presence=away');
  const annSeenByBen = chatWindow(ben.page, ann.account.displayName).getByText(`@${ann.account.username} ·`);
  await expect(annSeenByBen).toHaveText(`@${ann.account.username} · Away`, { timeout: 15_000 });
});

test('a tab opened or reloaded while a call rings rings too', async ({ page, newSessionPage }) => {
  test.slow();
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);
  await ann.page.getByRole('button', { name: 'Start audio call', exact: true }).click();
  await expect(incomingCall(ben.page)).toBeVisible({ timeout: 15_000 });

  // A second tab opened during the ring.
  const second = await ben.page.context().newPage();
  await gotoHydrated(second, '/');
  await expect(incomingCall(second)).toBeVisible({ timeout: 15_000 });
  // The first tab reloaded during the ring.
  await ben.page.reload();
  await waitForHydration(ben.page);
  await expect(incomingCall(ben.page)).toBeVisible({ timeout: 15_000 });

  // Answered on one tab, the other stops ringing.
  await incomingCall(second).getByRole('button', { name: 'Decline' }).click();
  await expect(incomingCall(ben.page)).toHaveCount(0);
});

test('people search finds non-ASCII names typed exactly, in any case', async ({ page, baseURL }) => {
  const tag = uniqueName('x').slice(-6);
  const elise: NewAccount = { username: uniqueName('elise_'), displayName: `Élise Dupont ${tag}`, password: 'password1' };
  const anna: NewAccount = { username: uniqueName('anna_'), displayName: `Анна Петрова ${tag}`, password: 'password1' };
  const visitor = page.request;
  await signUpViaApi(visitor, baseURL!, elise);
  await signUpViaApi(visitor, baseURL!, anna);
  await signUpViaApi(visitor, baseURL!, freshAccount('searcher_', 'Searcher'));
  const found = async (query: string) => {
    const answer = await callServerFn(visitor, baseURL!, 'search_users', { query: `${query} ${tag}` });
    expect(answer.status()).toBe(200);
    return ((await answer.json()) as { username: string }[]).map((u) => u.username);
  };
  for (const q of ['Élise Dupont', 'élise dupont', 'ÉLISE DUPONT']) expect(await found(q), q).toEqual([elise.username]);
  for (const q of ['Анна Петрова', 'анна петрова', 'Петрова']) expect(await found(q), q).toEqual([anna.username]);
});

test('a message with nothing visible is refused and keeps its text', async ({ page, newSessionPage, allowConsoleErrors }) => {
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await bothInConversation(ann, ben);
  const answer = await callServerFn(ann.page.request, ann.page.url(), 'send_message', {
    conversation_id: id,
    client_msg_id: 'zero-width-1',
    body: '\u200B',
  });
  expect(answer.status()).toBe(422);
  expect(await answer.text()).toContain('A message needs at least one visible character.');
  await composer(ann.page).fill('\u200B\u200D');
  await composer(ann.page).press('Enter');
  await expect(chatWindow(ann.page, ben.account.displayName).getByText('A message needs at least one visible character.')).toBeVisible();
  await expect(composer(ann.page)).toHaveValue('\u200B\u200D');
});

test('names that hide or reverse text are refused at sign-up', async ({ page, baseURL, allowConsoleErrors }) => {
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  for (const [name, why] of [
    ['Eve\u202E', 'Display name may not contain characters that change the direction of the text.'],
    ['\u200B', 'Display name needs at least one visible character.'],
  ]) {
    const answer = await callServerFn(page.request, baseURL!, 'signup', {
      username: uniqueName('eve_'),
      display_name: name,
      password: 'password1',
    });
    expect(answer.status(), name).toBe(422);
    expect(await answer.text()).toContain(why);
  }
});

test('right-to-left messages and the composer are laid out right to left', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  await bothInConversation(ann, ben);
  await composer(ann.page).fill('שלום עולם!');
  await composer(ann.page).press('Enter');
  const bubble = messageInLog(ben.page, 'שלום עולם!');
  await expect(bubble).toBeVisible();
  const body = ben.page.locator('.bubble .body', { hasText: 'שלום עולם!' });
  expect(await body.evaluate((el) => getComputedStyle(el).direction)).toBe('rtl');
  await composer(ben.page).fill('שלום');
  expect(await composer(ben.page).evaluate((el) => getComputedStyle(el).direction)).toBe('rtl');
});

const longMessages = withServerEnv({ NATTER_MAX_MESSAGE_CHARS: '16000' });
longMessages('a message within the character limit is never refused for its size', async ({ page, newSessionPage }) => {
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await bothInConversation(ann, ben);
  const answer = await callServerFn(ann.page.request, ann.page.url(), 'send_message', {
    conversation_id: id,
    client_msg_id: 'emoji-6000',
    body: '😀'.repeat(6000),
  });
  expect(answer.status(), (await answer.text()).slice(0, 200)).toBe(200);
});

test('fifty wrong passwords sent at once get five tries, the rest are throttled', async ({ page, baseURL, allowConsoleErrors }) => {
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const victim = freshAccount('victim_', 'Victim');
  await signUpViaApi(page.request, baseURL!, victim);
  const answers = await Promise.all(
    Array.from({ length: 50 }, () =>
      callServerFn(page.request, baseURL!, 'login', { username: victim.username, password: 'wrong-password' }),
    ),
  );
  const statuses = answers.map((a) => a.status());
  expect(statuses.filter((s) => s === 401).length, statuses.join(',')).toBe(5);
  expect(statuses.filter((s) => s === 429).length).toBe(45);
});

test('a flood of typing and presence frames reaches nobody and closes the socket', async ({
  page,
  newSessionPage,
  baseURL,
}) => {
  test.slow();
  const [ann, ben] = await twoPeople(page, newSessionPage);
  const id = await bothInConversation(ann, ben);
  const { socket } = await sockets.open(ann.page.context(), baseURL!);
  socket.sendJson({ type: 'subscribe', topic: `conversation:${id}` });
  await socket.waitForJson((f) => f.type === 'subscribed');
  const before = { typing: eventsOf(ben.sockets, 'typing').length, presence: eventsOf(ben.sockets, 'presence').length };
  // 400 frames at once: past the socket's burst of 300 and then 50 refusals in a row.
  for (let i = 0; i < 200; i++) {
    socket.sendJson({ type: 'typing', conversation_id: id, active: false });
    socket.sendJson({ type: 'presence', state: i % 2 === 0 ? 'away' : 'online' });
  }
  const closed = await socket.waitForClose(30_000);
  expect(closed.code).toBe(1008);
  expect(socket.json().some((f) => f.type === 'error' && f.code === 'rate_limited')).toBe(true);
  // Ben's tab still works, and heard no typing and at most a minute's presence changes.
  // (Counted once his tab has everything the server sent it up to now: what the flood
  // could have sent him is among it.)
  await ann.sockets.waitForConnected();
  await heardAllSentSoFar(ben.page, ben.sockets);
  expect(eventsOf(ben.sockets, 'typing').length).toBe(before.typing);
  expect(eventsOf(ben.sockets, 'presence').length - before.presence).toBeLessThanOrEqual(60);
});

const defaultLimits = withServerEnv({ NATTER_SIGNUPS_PER_HOUR: '10', NATTER_CALLS_PER_MINUTE: '6' });
defaultLimits('sign-ups from one address and calls from one person are rate-limited', async ({
  page,
  newSessionPage,
  baseURL,
  allowConsoleErrors,
}) => {
  test.slow();
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  // Ann and Ben are two of the ten sign-ups this address gets in an hour.
  const [ann, ben]: [Person, Person] = await twoPeople(page, newSessionPage);
  // A visitor of its own (each sign-up logs its browser in).
  const visitor = (await newSessionPage()).request;
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      callServerFn(visitor, baseURL!, 'signup', {
        username: uniqueName(`burst${i}_`),
        display_name: `Burst ${i}`,
        password: 'password1',
      }),
    ),
  );
  const statuses = answers.map((a) => a.status());
  expect(statuses.filter((s) => s === 200).length, statuses.join(',')).toBe(8);
  expect(statuses.filter((s) => s === 429).length).toBe(22);

  // Ann rings Ben and hangs up, again and again, from a tab of hers.
  const id = await bothInConversation(ann, ben);
  const { hello } = await sockets.open(ann.page.context(), baseURL!);
  let rang = 0;
  let refused = 0;
  for (let i = 0; i < 10; i++) {
    const started = await callServerFn(ann.page.request, baseURL!, 'start_call', {
      conversation_id: id,
      media: 'audio',
      connection_id: Number(hello.connection_id),
    });
    if (started.status() === 429) {
      refused++;
      expect(await started.text()).toContain('You are starting calls too fast');
      continue;
    }
    expect(started.status(), await started.text()).toBe(200);
    rang++;
    const call = ((await started.json()) as { call: { id: string } }).call;
    const hung = await callServerFn(ann.page.request, baseURL!, 'hang_up', { call_id: call.id });
    expect(hung.status()).toBe(200);
  }
  expect({ rang, refused }).toEqual({ rang: 6, refused: 4 });
});
