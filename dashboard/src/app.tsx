import { useEffect, useState } from "preact/hooks";
import { forgetKey, storedKey, storeKey, whenUnauthorized } from "./api";
import { NotFound } from "./components/status";
import { AdminPage } from "./pages/admin";
import { DatasetPage } from "./pages/dataset";
import { DatasetsPage } from "./pages/datasets";
import { EndpointPage } from "./pages/endpoint";
import { EndpointsPage } from "./pages/endpoints";
import { RunPage } from "./pages/run";
import { RunsPage } from "./pages/runs";
import { Identity, identify, SignIn } from "./pages/signin";
import { useRoute } from "./route";

export function App() {
  const [who, setWho] = useState<Identity | null>(null);
  const [checking, setChecking] = useState(storedKey() !== null);
  const [message, setMessage] = useState<string | null>(null);

  const signOut = (why: string | null) => {
    forgetKey();
    setWho(null);
    setMessage(why);
  };

  useEffect(() => {
    whenUnauthorized((problem) => signOut(problem.detail));
    const key = storedKey();
    if (key) identify(key).then(setWho, (error) => signOut(error.detail ?? String(error))).finally(() => setChecking(false));
  }, []);

  if (checking) return <p class="loading">Signing in…</p>;
  if (!who) {
    const signedIn = (identity: Identity) => {
      storeKey(identity.key);
      setMessage(null);
      setWho(identity);
    };
    return <SignIn message={message} onSignedIn={signedIn} />;
  }
  return <Shell who={who} onSignOut={() => signOut(null)} />;
}

function Shell({ who, onSignOut }: { who: Identity; onSignOut: () => void }) {
  const [section = who.platformAdmin ? "admin" : "runs", id] = useRoute();
  const nav = [["runs", "Runs"], ["datasets", "Datasets"], ["endpoints", "Endpoints"]];
  if (who.platformAdmin) nav.push(["admin", "Admin"]);
  return (
    <>
      <header class="top">
        <a class="brand" href="#/runs">sanacloud</a>
        <nav aria-label="sections">
          {nav.map(([path, label]) => (
            <a href={`#/${path}`} class={section === path ? "current" : ""}>{label}</a>
          ))}
        </nav>
        <span class="spacer" />
        <a href="/docs" target="_blank" rel="noopener">API docs</a>
        <span class="who">{who.platformAdmin ? "platform admin" : "tenant key"}</span>
        <button type="button" class="secondary" onClick={onSignOut}>Sign out</button>
      </header>
      <main class="page">
        <Page section={section} id={id} />
      </main>
    </>
  );
}

function Page({ section, id }: { section: string; id?: string }) {
  if (section === "runs") return id ? <RunPage key={id} id={id} /> : <RunsPage />;
  if (section === "datasets") return id ? <DatasetPage key={id} id={id} /> : <DatasetsPage />;
  if (section === "endpoints") return id ? <EndpointPage key={id} id={id} /> : <EndpointsPage />;
  if (section === "admin" && !id) return <AdminPage />;
  return <NotFound what="This page" />;
}
