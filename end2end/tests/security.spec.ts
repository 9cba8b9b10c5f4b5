import type { APIResponse } from '@playwright/test';
import { expect, signUp, test, uniqueName } from '../fixtures';

// These talk to the server functions directly, the way another site (or a
// script) could, rather than through the app's own pages.

const PASSWORD = 'correct horse battery';

function signupForm(username: string) {
  return { username, display_name: `Tester ${username}`, password: PASSWORD };
}

/** A refused request must not start a session either. */
function expectNoSessionCookie(response: APIResponse): void {
  const setCookie = response.headersArray().filter((h) => h.name.toLowerCase() === 'set-cookie');
  expect(setCookie.map((h) => h.value).join('\n')).not.toContain('natter_session');
}

test('a cross-origin POST to a state-changing server function is rejected and writes nothing', async ({
  page,
  request,
}) => {
  const username = uniqueName('csrf_');
  const response = await request.post('/api/signup', {
    form: signupForm(username),
    headers: { Origin: 'http://evil.example' },
    maxRedirects: 0,
  });
  expect(response.status()).toBe(403);
  expectNoSessionCookie(response);

  // The account was not created: the same name can still be signed up for
  // from the site itself.
  await signUp(page, { username, displayName: `Tester ${username}`, password: PASSWORD });
});

test('a cross-site fetch metadata POST is rejected', async ({ request, baseURL }) => {
  const ownOrigin = new URL(baseURL!).origin;

  // Sec-Fetch-Site alone decides here: the Origin header is the site's own.
  for (const site of ['cross-site', 'same-site']) {
    const signup = await request.post('/api/signup', {
      form: signupForm(uniqueName('fetchmeta_')),
      headers: { Origin: ownOrigin, 'Sec-Fetch-Site': site },
      maxRedirects: 0,
    });
    expect(signup.status(), `signup with Sec-Fetch-Site: ${site}`).toBe(403);
    expectNoSessionCookie(signup);

    const login = await request.post('/api/login', {
      form: { username: 'alice', password: 'natter-demo' },
      headers: { Origin: ownOrigin, 'Sec-Fetch-Site': site },
      maxRedirects: 0,
    });
    expect(login.status(), `login with Sec-Fetch-Site: ${site}`).toBe(403);
    expectNoSessionCookie(login);
  }

  // Control: the same request marked same-origin is accepted, so the 403s
  // above came from the fetch-metadata check and not from something else.
  const control = await request.post('/api/signup', {
    form: signupForm(uniqueName('fetchmeta_')),
    headers: { Origin: ownOrigin, 'Sec-Fetch-Site': 'same-origin' },
    maxRedirects: 0,
  });
  expect(control.status(), 'same-origin signup').toBeLessThan(400);
});

test('state-changing server functions refuse GET', async ({ request }) => {
  for (const fn of ['login', 'signup', 'logout']) {
    const response = await request.get(`/api/${fn}?username=alice&password=natter-demo`, { maxRedirects: 0 });
    expect(response.status(), `GET /api/${fn}`).toBe(405);
    expectNoSessionCookie(response);
  }
});
