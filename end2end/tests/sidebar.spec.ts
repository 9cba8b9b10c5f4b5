import type { Locator, Page } from '@playwright/test';
import {
  type NewAccount,
  conversations,
  expect,
  logInAsDemoUser,
  saveScreenshot,
  signUpViaApi,
  test,
  uniqueName,
} from '../fixtures';

// The sidebar's "New conversation" and "New group" panels open below the row of action
// buttons, as wide as the sidebar; they never squeeze into that row (which once turned the
// button into a full-height column and clipped the names beside it). A long name is cut
// short with an ellipsis, all of it in a tooltip, and never widens anything.

const PHONE = { width: 375, height: 667 };
const DESKTOP = { width: 1280, height: 800 };

/** Someone whose display name is as long as allowed, without a space to break it at. */
function longNamedAccount(): NewAccount {
  const username = uniqueName('anngwfh_');
  const displayName = `Anngwfh${'x'.repeat(64 - 7 - username.length)}${username}`;
  return { username, displayName, password: 'correct horse battery' };
}

function actionButton(page: Page, name: 'New conversation' | 'New group'): Locator {
  return conversations(page).getByRole('button', { name, exact: true });
}

/** Width of the laid-out document; more than the viewport means sideways scrolling. */
function scrollWidth(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth);
}

async function box(locator: Locator): Promise<{ x: number; y: number; width: number; height: number }> {
  // A list that is still settling (search results arriving) may replace the element.
  let b: Awaited<ReturnType<Locator['boundingBox']>> = null;
  await expect
    .poll(async () => (b = await locator.boundingBox()) !== null, { message: 'an element on screen has a box' })
    .toBe(true);
  return b!;
}

/**
 * Opens the panel with its button and checks where it is: below both action buttons,
 * which keep their size, and about as wide as the sidebar. Then finds `long` in it and
 * checks that the name is cut short inside the panel, with the whole name in its title.
 */
async function checkPanel(
  page: Page,
  name: 'New conversation' | 'New group',
  searchLabel: string,
  long: NewAccount,
  viewport: { width: number },
): Promise<void> {
  await actionButton(page, name).click();
  await expect(actionButton(page, name)).toHaveAttribute('aria-expanded', 'true');
  const panel = conversations(page).getByRole('group', { name, exact: true });
  await expect(panel).toBeVisible();

  const sidebar = await box(conversations(page));
  const panelBox = await box(panel);
  for (const button of [actionButton(page, 'New conversation'), actionButton(page, 'New group')]) {
    await expect(button).toBeInViewport();
    const b = await box(button);
    expect(b.height, 'an action button keeps its height').toBeLessThan(48);
    expect(panelBox.y, 'the panel starts below the action buttons').toBeGreaterThanOrEqual(b.y + b.height);
  }
  // The sidebar's padding on either side, and room for a scroll bar.
  expect(panelBox.width, 'the panel is as wide as the sidebar').toBeGreaterThanOrEqual(sidebar.width - 48);

  await panel.getByLabel(searchLabel, { exact: true }).fill(long.username);
  const row = panel.locator('.person').filter({ hasText: long.username });
  await expect(row).toHaveCount(1);
  const personName = row.locator('.person-name');
  await expect(personName).toHaveAttribute('title', long.displayName);
  expect(await personName.evaluate((e) => e.scrollWidth > e.clientWidth), 'the long name is cut short').toBe(true);
  const nameBox = await box(personName);
  expect(nameBox.x + nameBox.width, 'the name ends inside the panel').toBeLessThanOrEqual(panelBox.x + panelBox.width);
  expect(await panel.evaluate((e) => e.scrollWidth <= e.clientWidth), 'nothing in the panel scrolls sideways').toBe(true);
  expect(await scrollWidth(page), `document width on a ${viewport.width} px screen`).toBeLessThanOrEqual(viewport.width);
}

for (const [label, viewport] of [
  ['a desktop', DESKTOP],
  ['a phone', PHONE],
] as const) {
  test(`the people panels open below the sidebar's buttons on ${label}, long names cut short`, async ({
    page,
    request,
    baseURL,
  }) => {
    const long = longNamedAccount();
    await signUpViaApi(request, baseURL!, long);
    await page.setViewportSize(viewport);
    await logInAsDemoUser(page, 'Alice');

    await checkPanel(page, 'New conversation', 'Search people', long, viewport);
    await saveScreenshot(page, `sidebar-new-conversation-${viewport.width}.png`);

    // One panel at a time: "New group" takes the place of "New conversation".
    await checkPanel(page, 'New group', 'Search people to add', long, viewport);
    await expect(conversations(page).getByRole('group', { name: 'New conversation', exact: true })).toHaveCount(0);
    await expect(actionButton(page, 'New conversation')).toHaveAttribute('aria-expanded', 'false');
    await saveScreenshot(page, `sidebar-new-group-${viewport.width}.png`);

    // Its button closes it again.
    await actionButton(page, 'New group').click();
    await expect(conversations(page).getByRole('group', { name: 'New group', exact: true })).toHaveCount(0);
  });
}
