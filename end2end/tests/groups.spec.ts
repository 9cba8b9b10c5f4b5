import type { Page } from '@playwright/test';
import {
  HTTP_4XX_RESOURCE_ERROR,
  type NewAccount,
  SocketWatch,
  callServerFn,
  chatWindow,
  conversationLink,
  conversations,
  expect,
  freshAccount,
  gotoHydrated,
  heardAllSentSoFar,
  messageInLog,
  sendMessage,
  signUp,
  test,
} from '../fixtures';

// Groups: an owner, members, and what only the owner may do. Every test signs up fresh
// accounts, since tests in one worker share a server.

type Person = { account: NewAccount; page: Page; sockets: SocketWatch };

async function people(page: Page, newSessionPage: () => Promise<Page>, names: string[]): Promise<Person[]> {
  const list: Person[] = [];
  for (const [i, name] of names.entries()) {
    const p = i === 0 ? page : await newSessionPage();
    list.push({ account: freshAccount(`${name.toLowerCase()}_`, name), page: p, sockets: new SocketWatch(p) });
  }
  await Promise.all(list.map((p) => signUp(p.page, p.account)));
  return list;
}

/** The owner creates a group through "New group"; returns its id. */
async function createGroup(owner: Person, title: string, members: Person[]): Promise<string> {
  const panel = conversations(owner.page);
  await panel.getByRole('button', { name: 'New group' }).click();
  const form = panel.getByRole('group', { name: 'New group' });
  await form.getByLabel('Group name').fill(title);
  for (const m of members) {
    await form.getByLabel('Search people to add').fill(m.account.username);
    await form.getByRole('checkbox', { name: new RegExp(m.account.displayName) }).check();
  }
  await form.getByRole('button', { name: 'Create group' }).click();
  await expect(owner.page).toHaveURL(/\/c\/[0-9a-f-]+$/);
  return new URL(owner.page.url()).pathname.split('/').pop()!;
}

test('an owner creates a group and every member receives its messages', async ({ page, newSessionPage }) => {
  // Three browsers running the app.
  test.slow();
  const [ann, ben, cat] = await people(page, newSessionPage, ['Ann', 'Ben', 'Cat']);
  await Promise.all([gotoHydrated(ben.page, '/'), gotoHydrated(cat.page, '/')]);
  // Both are connected before the group is made: it is told to the tabs that are.
  await Promise.all([ben.sockets.waitForConnected(), cat.sockets.waitForConnected()]);
  const id = await createGroup(ann, 'Lunch crew', [ben, cat]);
  await expect(chatWindow(ann.page, 'Lunch crew')).toBeVisible();

  // The new group reaches the others' lists live; they open it.
  for (const p of [ben, cat]) {
    const link = conversationLink(p.page, 'Lunch crew');
    await expect(link).toBeVisible();
    await link.click();
    await expect(chatWindow(p.page, 'Lunch crew')).toBeVisible();
    await p.sockets.waitForSubscribed(id);
  }
  await ann.sockets.waitForSubscribed(id);

  await sendMessage(ann.page, 'Pizza at noon?');
  for (const p of [ben, cat]) {
    // Live, without a reload. (How fast is chat.spec.ts's subject; with three browsers
    // on a busy machine this gets the default timeout.)
    await expect(messageInLog(p.page, 'Pizza at noon?')).toBeVisible();
    // Messages in a group say who wrote them.
    await expect(chatWindow(p.page, 'Lunch crew').getByText(ann.account.displayName, { exact: true })).toBeVisible();
  }
  // Both had it open and at the bottom: both have read it.
  await expect(chatWindow(ann.page, 'Lunch crew').getByText('Seen by 2')).toBeVisible();
  await expect(chatWindow(ann.page, 'Lunch crew').getByRole('button', { name: 'Members (3)' })).toBeVisible();
});

test('only the owner adds and removes members, and a removed member stops receiving', async ({
  page,
  newSessionPage,
}) => {
  // Three browsers running the app.
  test.slow();
  const [ann, ben, cat] = await people(page, newSessionPage, ['Ann', 'Ben', 'Cat']);
  const id = await createGroup(ann, 'Project', [ben, cat]);
  await Promise.all([gotoHydrated(ben.page, `/c/${id}`), gotoHydrated(cat.page, `/c/${id}`)]);
  await Promise.all([ben.sockets.waitForSubscribed(id), cat.sockets.waitForSubscribed(id)]);

  // A member who is not the owner cannot remove anyone, through the server either.
  const members = (await (await callServerFn(ben.page.request, ben.page.url(), 'members', { conversation_id: id })).json()) as {
    user: { id: string; username: string };
  }[];
  const catId = members.find((m) => m.user.username === cat.account.username)!.user.id;
  const refused = await callServerFn(ben.page.request, ben.page.url(), 'remove_member', {
    conversation_id: id,
    user_id: catId,
  });
  expect(refused.status()).toBe(403);

  // The owner removes Cat from the members panel.
  const chat = chatWindow(ann.page, 'Project');
  await chat.getByRole('button', { name: 'Members (3)' }).click();
  await chat.getByRole('button', { name: `Remove ${cat.account.displayName}` }).click();
  await expect(chat.getByRole('button', { name: 'Members (2)' })).toBeVisible();

  // Cat's list loses the group, Cat receives nothing more, and Cat can no longer send.
  await expect(conversationLink(cat.page, 'Project')).toHaveCount(0);
  const before = cat.sockets.allReceived().length;
  await sendMessage(ann.page, 'Without Cat from here on');
  await expect(messageInLog(ben.page, 'Without Cat from here on')).toBeVisible();
  // Whatever the server sent Cat's tab up to now has reached it: the message was not among it.
  await heardAllSentSoFar(cat.page, cat.sockets);
  const after = cat.sockets.allReceived().slice(before);
  expect(after.filter((f) => f.type === 'event' && f.topic === `conversation:${id}`)).toEqual([]);
  const send = await callServerFn(cat.page.request, cat.page.url(), 'send_message', {
    conversation_id: id,
    client_msg_id: 'cat-after-removal',
    body: 'still here?',
  });
  expect(send.status()).toBe(403);
});

test('a group needs a name and someone else, and a refusal keeps what was entered', async ({
  page,
  newSessionPage,
  allowConsoleErrors,
}) => {
  // The refusals are 422 answers, which Chromium logs as failed resources.
  allowConsoleErrors(HTTP_4XX_RESOURCE_ERROR);
  const [ann, ben] = await people(page, newSessionPage, ['Ann', 'Ben']);
  const panel = conversations(ann.page);
  await panel.getByRole('button', { name: 'New group' }).click();
  const form = panel.getByRole('group', { name: 'New group' });
  await form.getByLabel('Search people to add').fill(ben.account.username);
  await form.getByRole('checkbox', { name: new RegExp(ben.account.displayName) }).check();
  await form.getByRole('button', { name: 'Create group' }).click();
  await expect(form.getByRole('alert')).toHaveText('A group needs a name.');
  await expect(form.getByRole('checkbox', { name: new RegExp(ben.account.displayName) })).toBeChecked();

  await form.getByLabel('Group name').fill('Solo');
  await form.getByRole('checkbox', { name: new RegExp(ben.account.displayName) }).uncheck();
  await form.getByRole('button', { name: 'Create group' }).click();
  await expect(form.getByRole('alert')).toHaveText('Pick at least one person.');
  await expect(form.getByLabel('Group name')).toHaveValue('Solo');
  await expect(ann.page).toHaveURL('/');
});
