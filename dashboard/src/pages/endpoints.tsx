// The tenant's endpoints with their status (a failed one says why), and a form that creates one from a model.
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api";
import { usePolled } from "../components/poll";
import { FieldErrors, ProblemMessage, showProblem } from "../components/problems";
import { age, StatusPill } from "../components/status";
import { go } from "../route";
import { endpointsApi, ServableModel, servableModels, useServableModels } from "./endpoints-api";

export function EndpointsPage() {
  const [creating, setCreating] = useState(false);
  const models = useServableModels();

  const [endpoints, problem] = usePolled(async () => (await endpointsApi.list()).items, 3000, []);

  return (
    <>
      <div class="title-row">
        <h1>Endpoints</h1>
        <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
          {creating ? "Close the form" : "New endpoint"}
        </button>
      </div>
      {creating && <NewEndpoint />}
      <ProblemMessage problem={problem} />
      {endpoints === null ? <p class="loading">Loading…</p> : endpoints.length === 0 ? (
        <p class="empty">No endpoints yet: create one from a promoted checkpoint or a base model.</p>
      ) : (
        <table class="runs endpoints">
          <thead>
            <tr><th>Name</th><th>Status</th><th>Model</th><th>Scale</th><th>Last request</th></tr>
          </thead>
          <tbody>
            {endpoints.map((endpoint) => (
              <tr data-endpoint-id={endpoint.id} key={endpoint.id}>
                <td><a href={`#/endpoints/${endpoint.id}`}>{endpoint.name}</a><div class="id">{endpoint.id}</div></td>
                <td><StatusPill status={endpoint.status} />
                  {endpoint.error && <div class="reason failed">{endpoint.error}</div>}</td>
                <td>{models.get(endpoint.model_id)?.name ?? endpoint.model_id}</td>
                <td>{endpoint.min_replicas === 0 ? `to zero after ${endpoint.idle_timeout_s} s idle` : "always loaded"}</td>
                <td>{endpoint.last_request_at ? age(endpoint.last_request_at) : "never"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

const SHOWN = ["name", "model", "min_replicas", "idle_timeout_s"];

function NewEndpoint() {
  const [models, setModels] = useState<ServableModel[]>([]);
  const [values, setValues] = useState({ name: "", model: "", min_replicas: "0", idle_timeout_s: "300" });
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    servableModels().then((all) => {
      setModels(all);
      if (all[0]) setValues((v) => ({ ...v, model: v.model || all[0].id }));
    }, (error) => setProblem(showProblem(error)));
  }, []);

  const set = (field: keyof typeof values) => (e: { currentTarget: { value: string } }) =>
    setValues({ ...values, [field]: e.currentTarget.value });

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const timeout = Number(values.idle_timeout_s);
      const endpoint = await endpointsApi.create({
        name: values.name, model: values.model, min_replicas: Number(values.min_replicas),
        idle_timeout_s: values.idle_timeout_s.trim() !== "" && !Number.isNaN(timeout) ? timeout : values.idle_timeout_s,
      });
      go(`/endpoints/${endpoint.id}`);
    } catch (error) {
      setProblem(showProblem(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={submit} aria-label="new endpoint">
      <h2>New endpoint</h2>
      <div class="grid-form">
        <label for="endpoint-name">Name</label>
        <div><input id="endpoint-name" value={values.name} onInput={set("name")} />
          <FieldErrors problem={problem} loc="name" /></div>
        <label for="endpoint-model">Model</label>
        <div>
          <select id="endpoint-model" value={values.model} onChange={set("model")}>
            {models.map((m) => <option value={m.id}>{m.name} ({m.kind ?? "base"})</option>)}
          </select>
          <FieldErrors problem={problem} loc="model" />
        </div>
        <label for="endpoint-min-replicas">Keep loaded</label>
        <div>
          <select id="endpoint-min-replicas" value={values.min_replicas} onChange={set("min_replicas")}>
            <option value="0">no: scale to zero when idle</option>
            <option value="1">yes: always one replica</option>
          </select>
          <FieldErrors problem={problem} loc="min_replicas" />
        </div>
        <label for="endpoint-idle">Idle timeout (s)</label>
        <div><input id="endpoint-idle" inputMode="numeric" value={values.idle_timeout_s} onInput={set("idle_timeout_s")} />
          <FieldErrors problem={problem} loc="idle_timeout_s" /></div>
      </div>
      <ProblemMessage problem={problem} shownFields={SHOWN} />
      <button type="submit" disabled={busy}>Create the endpoint</button>
    </form>
  );
}
