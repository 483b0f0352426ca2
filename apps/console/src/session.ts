/**
 * The signed-in user's bearer token, kept in sessionStorage: it lasts as long as the tab, is not
 * shared with other tabs, and is never sent anywhere but in the Authorization header of API
 * calls (a cookie would be sent with every request, the static files' too).
 */
const KEY = 'shoal.console.token';

export const session = {
  token(): string | undefined {
    return sessionStorage.getItem(KEY) ?? undefined;
  },
  save(token: string): void {
    sessionStorage.setItem(KEY, token);
  },
  clear(): void {
    sessionStorage.removeItem(KEY);
  },
};
