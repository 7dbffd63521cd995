// One endpoint and its playground: a prompt and the sampling settings in, the images and the timings out.
import { isNotFound } from "../api";
import { usePolled } from "../components/poll";
import { ProblemMessage } from "../components/problems";
import { age, NotFound, StatusPill } from "../components/status";
import { endpointsApi, useServableModels } from "./endpoints-api";
import { Playground } from "./endpoint-playground";

export function EndpointPage({ id }: { id: string }) {
  const models = useServableModels();

  const [endpoint, problem] = usePolled(() => endpointsApi.get(id), 3000, [id]);

  if (problem && isNotFound(problem)) return <NotFound what="This endpoint" />;
  if (!endpoint) return problem ? <ProblemMessage problem={problem} /> : <p class="loading">Loading…</p>;
  const { defaults } = endpoint;
  const model = models.get(endpoint.model_id);
  return (
    <>
      <p class="hint"><a href="#/endpoints">Endpoints</a> /</p>
      <div class="title-row">
        <h1>{endpoint.name}</h1>
        <StatusPill status={endpoint.status} />
      </div>
      <div class="id">
        {endpoint.id} · model {model?.name ?? endpoint.model_id}
        {model?.trigger && <> · trigger word <b class="trigger">{model.trigger}</b></>}
      </div>
      {endpoint.error && <p class="reason failed" role="alert">{endpoint.error}</p>}
      <p class="hint">
        {endpoint.status === "cold" && "Cold: the first request loads the model (a cold start). "}
        {endpoint.min_replicas === 0 ? `Scales to zero after ${endpoint.idle_timeout_s} s idle` : "Always loaded"}
        {"; "}{endpoint.rate_limit_per_minute} requests a minute
        {endpoint.last_request_at && `; last request ${age(endpoint.last_request_at)}`}.
      </p>
      <ProblemMessage problem={problem} />
      <Playground endpointId={endpoint.id} defaults={defaults} trigger={model?.trigger ?? null} />
    </>
  );
}
