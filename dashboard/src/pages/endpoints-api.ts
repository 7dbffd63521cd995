// The endpoints API as the endpoints pages and the playground use it.
import { useEffect, useState } from "preact/hooks";
import { Page, request } from "../api";

export interface EndpointOut {
  id: string;
  name: string;
  model_id: string;
  pool_id: string;
  status: string;
  min_replicas: number;
  max_replicas: number;
  idle_timeout_s: number;
  rate_limit_per_minute: number;
  defaults: { steps?: number; guidance?: number; resolution?: number | null; sampler?: string };
  last_request_at: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface Generation {
  id: string;
  endpoint_id: string;
  status: string;
  params: Record<string, unknown>;
  timings: Record<string, number>;
  image_urls: string[];
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface ServableModel {
  id: string;
  name: string;
  kind?: string;
  family?: string;
  resolutions?: number[];
  native_resolution?: number;
  trigger?: string | null; // a fine-tune's trigger word, to prompt with
}

export const GENERATION_ENDED = ["succeeded", "failed"];

const path = (id: string) => `/v1/endpoints/${encodeURIComponent(id)}`;

export const endpointsApi = {
  list: () => request<Page<EndpointOut>>("/v1/endpoints?limit=200"),
  get: (id: string) => request<EndpointOut>(path(id)),
  create: (body: Record<string, unknown>) => request<EndpointOut>("/v1/endpoints", { method: "POST", json: body }),
  remove: (id: string) => request<void>(path(id), { method: "DELETE" }),
  models: () => request<Page<ServableModel>>("/v1/models?limit=200"),
  baseModels: () => request<ServableModel[]>("/v1/base-models"),
  /** Asks for images and answers at once (wait=false): the playground polls the generation. */
  generate: (id: string, body: Record<string, unknown>) =>
    request<Generation>(`${path(id)}/generate`, { method: "POST", json: { ...body, wait: false } }),
  generation: (id: string) => request<Generation>(`/v1/generations/${encodeURIComponent(id)}`),
};

/** The models an endpoint can serve (the tenant's and the base models), by id. */
export async function servableModels(): Promise<ServableModel[]> {
  const [mine, base] = await Promise.all([endpointsApi.models(), endpointsApi.baseModels()]);
  return [...mine.items, ...base];
}

/** The servable models by id, read once when the page opens. */
export function useServableModels(): Map<string, ServableModel> {
  const [byId, setById] = useState(new Map<string, ServableModel>());
  useEffect(() => {
    servableModels().then((models) => setById(new Map(models.map((m) => [m.id, m]))), () => {});
  }, []);
  return byId;
}
