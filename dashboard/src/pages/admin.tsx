// The platform admin's page: GPUs per pool and tenant against their quotas, GPU-hours over time, the queue
// of waiting jobs with each one's reason, the tenants, and setting a quota.
import { useState } from "preact/hooks";
import { usePolled } from "../components/poll";
import { ProblemMessage } from "../components/problems";
import { age } from "../components/status";
import { AdminJob, adminApi, UsageReport } from "./admin-api";
import { GpuHoursChart } from "./admin-chart";
import { GpuBars, Holdings, QuotaForm } from "./admin-quota";

const RANGES: Record<string, { label: string; seconds: number; buckets: number }> = {
  hour: { label: "the last hour", seconds: 3600, buckets: 60 },
  day: { label: "the last 24 hours", seconds: 86400, buckets: 48 },
  month: { label: "the last 30 days", seconds: 30 * 86400, buckets: 30 },
};

interface Overview {
  holdings: Holdings;
  usage: UsageReport;
  queue: AdminJob[];
}

async function overview(): Promise<Overview> {
  const [tenants, pools, usage, queue] = await Promise.all([
    adminApi.tenants(), adminApi.pools(), adminApi.usage(), adminApi.queue()]);
  const quotas = (await Promise.all(tenants.items.map((t) => adminApi.quotas(t.id)))).flat();
  return { holdings: { tenants: tenants.items, pools, quotas, now: usage.pools }, usage, queue: queue.items };
}

export function AdminPage() {
  const [range, setRange] = useState("day");
  const [version, setVersion] = useState(0); // bumped when a quota is saved, to read everything again at once
  const [read, problem] = usePolled(async () => {
    const { seconds, buckets } = RANGES[range];
    const until = new Date();
    const [data, series] = await Promise.all([
      overview(), adminApi.series(new Date(until.getTime() - seconds * 1000), until, buckets)]);
    return { data, series };
  }, 3000, [range, version]);

  const data = read?.data;
  const series = read?.series ?? null;
  if (!data) return problem ? <ProblemMessage problem={problem} /> : <p class="loading">Loading…</p>;
  const tenantName = (id: string) => data.holdings.tenants.find((t) => t.id === id)?.name ?? id;
  return (
    <>
      <h1>Platform</h1>
      <ProblemMessage problem={problem} />
      <h2>GPUs per pool and tenant</h2>
      <GpuBars holdings={data.holdings} />
      <QuotaForm holdings={data.holdings} onSaved={() => setVersion(version + 1)} />
      <div class="title-row">
        <h2>GPU-hours over time</h2>
        <label>
          Range{" "}
          <select value={range} onChange={(e) => setRange(e.currentTarget.value)} name="range">
            {Object.entries(RANGES).map(([value, { label }]) => <option value={value}>{label}</option>)}
          </select>
        </label>
      </div>
      {series && (series.lines.length === 0 ? <p class="empty">No GPU time in {RANGES[range].label}.</p>
        : <GpuHoursChart series={series} />)}
      <p class="hint">In the last 30 days: {(data.usage.total_gpu_seconds / 3600).toFixed(3)} GPU-hours.</p>
      <h2>Queue</h2>
      {data.queue.length === 0 ? <p class="empty">No job is waiting.</p> : (
        <table class="runs queue">
          <thead><tr><th>Job</th><th>Tenant</th><th>Pool</th><th>GPUs</th><th>Waiting</th><th>Why</th></tr></thead>
          <tbody>
            {data.queue.map((job) => (
              <tr data-job-id={job.id}>
                <td>{job.name}<div class="id">{job.id}</div></td>
                <td>{job.tenant}</td>
                <td>{job.pool}</td>
                <td>{job.gpus}</td>
                <td title={job.created_at}>{age(job.created_at)}</td>
                <td class="wait-reason">{job.wait_reason ?? "waiting for the next scheduling tick"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Tenants</h2>
      <table class="runs tenants">
        <thead><tr><th>Tenant</th><th>Status</th><th>Fair-share weight</th><th>Quotas</th></tr></thead>
        <tbody>
          {data.holdings.tenants.map((tenant) => (
            <tr data-tenant={tenant.name}>
              <td>{tenant.name}<div class="id">{tenant.id}</div></td>
              <td>{tenant.status}</td>
              <td>{tenant.fair_share_weight}</td>
              <td>{data.holdings.quotas.filter((q) => q.tenant_id === tenant.id)
                .map((q) => `${q.pool}: ${q.nominal_gpus} (+${q.borrowing_limit_gpus})`).join(", ") || "none"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Pools</h2>
      <table class="runs pools">
        <thead><tr><th>Pool</th><th>GPU type</th><th>Capacity</th><th>In use</th><th>Held by</th><th>Queued</th></tr></thead>
        <tbody>
          {data.holdings.pools.map((pool) => {
            const now = data.usage.pools.find((p) => p.pool === pool.name);
            return (
              <tr data-pool={pool.name}>
                <td>{pool.name}</td>
                <td>{pool.gpu_type}</td>
                <td>{pool.capacity_gpus} ({pool.gpus_per_node} a node)</td>
                <td>{now?.gpus_in_use ?? 0}</td>
                <td>{(now?.holders ?? []).map((h) => `${tenantName(h.tenant_id)}: ${h.gpus} (${h.kind} ${h.ids.join(", ")})`)
                  .join("; ") || "–"}</td>
                <td>{now?.queued_jobs ?? 0}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}
