// The datasets API as the datasets pages use it; uploads go by XMLHttpRequest, which reports upload progress.
import { ApiError, FieldProblem, Page, request, storedKey, unauthorized } from "../api";

export interface DatasetOut {
  id: string;
  name: string;
  description: string;
  file_count: number;
  total_bytes: number;
  created_at: string;
  updated_at: string;
}

export interface Rejected {
  name: string;
  reason: string;
}

export interface UploadSummary {
  at: string;
  accepted: number;
  on_invalid: OnInvalid;
  rejected: Rejected[];
  rejected_count: number;
  warnings: string[];
}

export interface DatasetDetail extends DatasetOut {
  stats: {
    captioned: number;
    uncaptioned: number;
    formats: Record<string, number>;
    min_width: number | null;
    max_width: number | null;
    min_height: number | null;
    max_height: number | null;
    auto_captioned: number;
    captions_by_source: Record<string, number>;
  };
  report: { uploads?: UploadSummary[] };
}

export interface CaptionOut {
  source: string;
  text: string;
  score: number | null;
  scorer: string | null;
  job_id: string | null;
}

export interface DatasetFile {
  id: string;
  name: string;
  caption: string;
  format: string;
  width: number;
  height: number;
  size_bytes: number;
  url: string;
  captions: CaptionOut[];
}

export interface UploadReport {
  accepted: number;
  accepted_bytes: number;
  rejected: Rejected[];
  warnings: string[];
  on_invalid: OnInvalid;
  dataset: DatasetOut;
}

export type OnInvalid = "reject" | "skip";

const path = (id: string) => `/v1/datasets/${encodeURIComponent(id)}`;

export const datasetsApi = {
  list: () => request<Page<DatasetOut>>("/v1/datasets?limit=200"),
  create: (name: string, description: string) =>
    request<DatasetOut>("/v1/datasets", { method: "POST", json: { name, description } }),
  get: (id: string) => request<DatasetDetail>(path(id)),
  remove: (id: string) => request<void>(path(id), { method: "DELETE" }),
  files: (id: string, cursor: string | null) =>
    request<Page<DatasetFile>>(`${path(id)}/files?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
};

/** The name a file is stored under: its path inside the chosen folder (without the folder's own name). */
export function uploadName(file: File): string {
  const relative = file.webkitRelativePath;
  return relative ? relative.split("/").slice(1).join("/") : file.name;
}

/** Sends `files` in one multipart upload, calling `progress(sent, total)` as the bytes go out. */
export function uploadFiles(datasetId: string, files: File[], onInvalid: OnInvalid,
  progress: (sent: number, total: number) => void): Promise<UploadReport> {
  const form = new FormData();
  for (const file of files) form.append("files", file, uploadName(file));
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${path(datasetId)}/files?on_invalid=${onInvalid}`);
    xhr.setRequestHeader("Accept", "application/json");
    const key = storedKey();
    if (key) xhr.setRequestHeader("Authorization", `Bearer ${key}`);
    xhr.upload.onprogress = (event) => progress(event.loaded, event.total);
    xhr.onerror = () => reject(new ApiError(0, "the API cannot be reached"));
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve(JSON.parse(xhr.responseText));
      const problem = problemOf(xhr);
      if (problem.status === 401) unauthorized(problem);
      reject(problem);
    };
    xhr.send(form);
  });
}

function problemOf(xhr: XMLHttpRequest): ApiError {
  try {
    const body = JSON.parse(xhr.responseText) as { detail?: string; title?: string; errors?: FieldProblem[] };
    return new ApiError(xhr.status, body.detail ?? body.title ?? xhr.statusText, body.errors ?? []);
  } catch {
    return new ApiError(xhr.status, `${xhr.status} ${xhr.statusText}`);
  }
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];

/** "1.2 MB": bytes in their largest unit below 1024. */
export function bytes(count: number): string {
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}
