import { useState } from "preact/hooks";
import { graphql, RequestFailed, Unauthorized } from "../lib/api";
import { signIn, signInReason, token } from "../lib/auth";
import { forgetAnswers } from "../lib/query";

/** Paste an API token (`usagegraph token create`, or the link `make run` prints). */
export function SignIn({ reason }: { reason: string | null }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const candidate = value.trim();
    if (!candidate) return;
    setBusy(true);
    setError(null);
    // Ask the server who the token belongs to before keeping it.
    token.set(candidate);
    try {
      await graphql<{ viewer: { username: string } }>("query SignIn { viewer { username } }");
      forgetAnswers();
      signIn(candidate);
    } catch (e) {
      token.set(null);
      if (e instanceof Unauthorized) setError(signInReason.get() ?? e.message);
      else if (e instanceof RequestFailed) setError(e.info.message);
      else setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const shown = error ?? reason;
  return (
    <main id="main" class="signin">
      <form class="panel" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to usagegraph</h1>
        <p class="muted">
          Paste an API token. Create one with <code>usagegraph token create USERNAME</code>; <code>make run</code> prints a
          link that signs you in. The token is kept for this browser tab only.
        </p>
        {shown && (
          <div class="notice error" role="alert" data-state="signin-error">
            {shown}
          </div>
        )}
        <div class="field">
          <label for="token">API token</label>
          <input
            id="token"
            name="token"
            type="password"
            autoComplete="off"
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
            required
          />
        </div>
        <button type="submit" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
