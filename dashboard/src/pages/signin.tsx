import { useState } from "preact/hooks";
import { ApiError, request } from "../api";
import { ProblemMessage, showProblem } from "../components/problems";

export interface Identity {
  key: string;
  platformAdmin: boolean;
}

/** Whether `key` works, and whether it is a platform admin's: the admin routes answer it 200, a tenant's 403. */
export async function identify(key: string): Promise<Identity> {
  try {
    await request("/v1/admin/pools", { key });
    return { key, platformAdmin: true };
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return { key, platformAdmin: false };
    throw error;
  }
}

export function SignIn({ message, onSignedIn }: { message: string | null; onSignedIn: (who: Identity) => void }) {
  const [key, setKey] = useState("");
  const [problem, setProblem] = useState<ApiError | null>(message ? new ApiError(401, message) : null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      onSignedIn(await identify(key.trim()));
    } catch (error) {
      setProblem(showProblem(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin">
      <h1>sanacloud</h1>
      <form onSubmit={submit} class="card">
        <label for="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autocomplete="off" required value={key}
          onInput={(e) => setKey(e.currentTarget.value)} />
        <ProblemMessage problem={problem} />
        <button type="submit" disabled={busy}>Sign in</button>
        <p class="hint">The key is kept for this browser session only. `sanacloud up` prints one.</p>
      </form>
    </main>
  );
}
