// The platform admin's API as the admin page uses it (a platform admin's key; tenants' keys get 403).
import { Job, Page, request } from "../api";

export interface Tenant {
  id: string;
  name: string;
  status: string;
  fair_share_weight: number;
  created_at: string;
}

export interface Pool {
  id: string;
  name: string;
  gpu_type: string;
  capacity_gpus: number;
  gpus_per_node: number;
}

export interface Quota {
  tenant_id: string;
  pool: string;
  nominal_gpus: number;
  borrowing_limit_gpus: number;
}

export interface Holder {
  tenant_id: string;
  kind: "job" | "endpoint";
  ids: string[];
  gpus: number;
}

export interface PoolNow {
  pool: string;
  capacity_gpus: number;
  gpus_in_use: number;
  gpus_held_by_jobs: number;
  gpus_held_by_endpoints: number;
  holders: Holder[];
  queued_jobs: number;
}

export interface UsageReport {
  since: string;
  until: string;
  total_gpu_seconds: number;
  lines: { tenant_id: string; tenant: string; pool: string; gpu_seconds: number; jobs: number }[];
  pools: PoolNow[];
}

export interface UsageSeries {
  since: string;
  until: string;
  bucket_s: number;
  starts: string[];
  lines: { tenant_id: string; tenant: string; pool: string; gpu_seconds: number[] }[];
}

export interface AdminJob extends Job {
  tenant_id: string;
  tenant: string;
  pool: string;
}

const tenantPath = (id: string) => `/v1/admin/tenants/${encodeURIComponent(id)}`;

export const adminApi = {
  tenants: () => request<Page<Tenant>>("/v1/admin/tenants?limit=200"),
  pools: () => request<Pool[]>("/v1/admin/pools"),
  quotas: (tenantId: string) => request<Quota[]>(`${tenantPath(tenantId)}/quotas`),
  putQuota: (tenantId: string, pool: string, body: Record<string, unknown>) =>
    request<Quota>(`${tenantPath(tenantId)}/quotas/${encodeURIComponent(pool)}`, { method: "PUT", json: body }),
  usage: () => request<UsageReport>("/v1/admin/usage"),
  series: (since: Date, until: Date, buckets: number) =>
    request<UsageSeries>(`/v1/admin/usage/series?since=${encodeURIComponent(since.toISOString())}` +
      `&until=${encodeURIComponent(until.toISOString())}&buckets=${buckets}`),
  queue: () => request<Page<AdminJob>>("/v1/admin/jobs?status=queued&limit=200"),
};
