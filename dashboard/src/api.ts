// The one way the dashboard talks to the platform: the public /v1 API with the signed-in key.

const KEY = "sanacloud.apiKey"; // sessionStorage only: gone when the browser session ends

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}

export interface FieldProblem {
  loc: string;
  msg: string;
}

/** An application/problem+json answer (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly errors: FieldProblem[] = [],
  ) {
    super(detail);
  }

  /** The message for one field (`loc` as the API names it, e.g. "hyperparameters.steps"), if any. */
  field(loc: string): string | undefined {
    return this.errors.find((e) => e.loc === loc)?.msg;
  }
}

type Unauthorized = (problem: ApiError) => void;
let onUnauthorized: Unauthorized = () => {};

/** Who hears of a 401: the app, which signs out and shows the API's message. */
export function whenUnauthorized(handler: Unauthorized): void {
  onUnauthorized = handler;
}

/** For calls made without `request` (an upload with progress): a 401 they got signs out the same way. */
export function unauthorized(problem: ApiError): void {
  onUnauthorized(problem);
}

export interface RequestOptions {
  method?: string;
  json?: unknown;
  body?: BodyInit;
  key?: string; // a key to try (sign-in) instead of the stored one
  signal?: AbortSignal;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const key = options.key ?? storedKey();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (options.json !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? "GET",
      headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "the API cannot be reached");
  }
  if (!response.ok) {
    const problem = await problemOf(response);
    if (problem.status === 401 && options.key === undefined) unauthorized(problem);
    throw problem;
  }
  return (response.status === 204 ? undefined : await response.json()) as T;
}

async function problemOf(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { detail?: string; title?: string; errors?: FieldProblem[] };
    return new ApiError(response.status, body.detail ?? body.title ?? response.statusText, body.errors ?? []);
  } catch {
    return new ApiError(response.status, `${response.status} ${response.statusText}`);
  }
}

export const isNotFound = (error: unknown): boolean => error instanceof ApiError && error.status === 404;

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Job {
  id: string;
  name: string;
  type: string;
  status: string;
  dataset_id: string | null;
  base_model_id: string;
  base_model: string;
  pool_id: string;
  pool: string;
  gpus: number;
  priority: number;
  requested: Record<string, unknown>;
  hyperparameters: Record<string, unknown>;
  error: string | null;
  cancel_requested_at: string | null;
  pause_requested_at: string | null; // a running job's pause waits for its trainer's checkpoint
  from_checkpoint_id: string | null; // the checkpoint whose weights the job started from
  attempt: number;
  borrowed: boolean;
  step: number;
  wait_reason: string | null;
  created_at: string;
  updated_at: string;
  admitted_at: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface JobEvent {
  id: number;
  type: string;
  payload: Record<string, unknown>;
  created_at: string;
}

export interface EventPage {
  items: JobEvent[];
  next_cursor: number | null;
}

export interface Checkpoint {
  id: string;
  step: number;
  metrics: Record<string, unknown>;
  created_at: string;
  sample_urls: string[];
}

export interface BaseModel {
  id: string;
  name: string;
}

export interface Dataset {
  id: string;
  name: string;
}

export interface Model {
  id: string;
  name: string;
}

export const api = {
  jobs: (status: string) => request<Page<Job>>(`/v1/jobs?limit=200${status ? `&status=${status}` : ""}`),
  job: (id: string) => request<Job>(`/v1/jobs/${encodeURIComponent(id)}`),
  events: (id: string, after: number) =>
    request<EventPage>(`/v1/jobs/${encodeURIComponent(id)}/events?after=${after}&limit=1000`),
  checkpoints: (id: string) => request<Checkpoint[]>(`/v1/jobs/${encodeURIComponent(id)}/checkpoints`),
  cancel: (id: string) => request<Job>(`/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" }),
  pause: (id: string) => request<Job>(`/v1/jobs/${encodeURIComponent(id)}/pause`, { method: "POST" }),
  resume: (id: string) => request<Job>(`/v1/jobs/${encodeURIComponent(id)}/resume`, { method: "POST" }),
  /** Train to `steps` in all (more than the job has). */
  extend: (id: string, steps: number | string) =>
    request<Job>(`/v1/jobs/${encodeURIComponent(id)}`, { method: "PATCH", json: { steps } }),
  createJob: (body: unknown) => request<Job>("/v1/jobs", { method: "POST", json: body }),
  promote: (checkpointId: string, name: string) =>
    request<Model>(`/v1/checkpoints/${encodeURIComponent(checkpointId)}/promote`, { method: "POST", json: { name } }),
  baseModels: () => request<BaseModel[]>("/v1/base-models"),
  datasets: () => request<Page<Dataset>>("/v1/datasets?limit=200"),
};
