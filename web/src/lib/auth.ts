// The API token: kept for the browser tab only (sessionStorage), sent as `Authorization: Bearer`, never in a
// cookie or a URL the server sees (a `#token=` fragment never leaves the browser and is removed at once).
import { signal } from "./signal";
import { TOKEN_KEY } from "./token-key";

export const token = signal<string | null>(readInitialToken());
/** Why the sign-in form is shown again (the server's answer to a rejected token). */
export const signInReason = signal<string | null>(null);

function readInitialToken(): string | null {
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(history.state, "", window.location.pathname + window.location.search);
    return fromHash;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(value: string): void {
  sessionStorage.setItem(TOKEN_KEY, value);
  signInReason.set(null);
  token.set(value);
}

export function signOut(reason: string | null = null): void {
  sessionStorage.removeItem(TOKEN_KEY);
  signInReason.set(reason);
  token.set(null);
}
