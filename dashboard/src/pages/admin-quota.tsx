// GPUs per pool and tenant (in use against the nominal quota and the borrowing limit), and setting a quota.
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api";
import { FieldErrors, ProblemMessage, showProblem } from "../components/problems";
import { adminApi, Pool, PoolNow, Quota, Tenant } from "./admin-api";

export interface Holdings {
  tenants: Tenant[];
  pools: Pool[];
  quotas: Quota[];
  now: PoolNow[];
}

interface Row {
  tenant: Tenant;
  inUse: number;
  nominal: number;
  borrowing: number;
}

/** The tenants with a quota on the pool or GPUs of it in use. */
function rowsOf(pool: Pool, { tenants, quotas, now }: Holdings): Row[] {
  const holders = now.find((p) => p.pool === pool.name)?.holders ?? [];
  return tenants.flatMap((tenant) => {
    const quota = quotas.find((q) => q.tenant_id === tenant.id && q.pool === pool.name);
    const inUse = holders.filter((h) => h.tenant_id === tenant.id).reduce((sum, h) => sum + h.gpus, 0);
    if (!quota && inUse === 0) return [];
    return [{ tenant, inUse, nominal: quota?.nominal_gpus ?? 0, borrowing: quota?.borrowing_limit_gpus ?? 0 }];
  });
}

const percent = (part: number, whole: number) => `${Math.min(100, (100 * part) / Math.max(whole, 1))}%`;

export function GpuBars({ holdings }: { holdings: Holdings }) {
  return (
    <div class="gpu-bars">
      {holdings.pools.map((pool) => {
        const rows = rowsOf(pool, holdings);
        const scale = Math.max(pool.capacity_gpus, ...rows.map((r) => Math.max(r.inUse, r.nominal + r.borrowing)));
        return (
          <figure class="card" data-pool={pool.name}>
            <figcaption><b>{pool.name}</b> ({pool.gpu_type}, {pool.capacity_gpus} GPUs)</figcaption>
            {rows.length === 0 && <p class="empty">No tenant has a quota here.</p>}
            {rows.map(({ tenant, inUse, nominal, borrowing }) => {
              const text = `${inUse} in use · nominal ${nominal} · may borrow ${borrowing}`;
              return (
                <div class="gpu-bar-row" data-tenant={tenant.name} data-in-use={inUse} data-nominal={nominal}
                  data-borrowing={borrowing}>
                  <span class="gpu-bar-tenant">{tenant.name}</span>
                  <div class="gpu-bar" role="img" aria-label={`${tenant.name} on ${pool.name}: ${text}`}>
                    <div class="gpu-bar-limit" style={{ width: percent(nominal + borrowing, scale) }} />
                    <div class="gpu-bar-nominal" style={{ width: percent(nominal, scale) }} />
                    <div class={`gpu-bar-used${inUse > nominal ? " borrowed" : ""}`} style={{ width: percent(inUse, scale) }} />
                  </div>
                  <span class="gpu-bar-text">{text}</span>
                </div>
              );
            })}
          </figure>
        );
      })}
      <p class="hint legend">
        <span class="swatch used" /> in use <span class="swatch nominal" /> nominal quota{" "}
        <span class="swatch limit" /> borrowing limit
      </p>
    </div>
  );
}

const FIELDS = ["nominal_gpus", "borrowing_limit_gpus"];

/** A number when the text is one, else the text as typed, so that the API says what is wrong with it. */
function typed(text: string): number | string {
  return text.trim() !== "" && !Number.isNaN(Number(text)) ? Number(text) : text;
}

export function QuotaForm({ holdings, onSaved }: { holdings: Holdings; onSaved: () => void }) {
  const [tenantId, setTenantId] = useState("");
  const [pool, setPool] = useState("");
  const [values, setValues] = useState({ nominal_gpus: "", borrowing_limit_gpus: "" });
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const chosenTenant = tenantId || holdings.tenants[0]?.id || "";
  const chosenPool = pool || holdings.pools[0]?.name || "";

  useEffect(() => { // show the quota the choice has now
    const quota = holdings.quotas.find((q) => q.tenant_id === chosenTenant && q.pool === chosenPool);
    setValues({ nominal_gpus: String(quota?.nominal_gpus ?? 0), borrowing_limit_gpus: String(quota?.borrowing_limit_gpus ?? 0) });
  }, [chosenTenant, chosenPool]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setProblem(null);
    setSaved(null);
    try {
      const quota = await adminApi.putQuota(chosenTenant, chosenPool, {
        nominal_gpus: typed(values.nominal_gpus), borrowing_limit_gpus: typed(values.borrowing_limit_gpus) });
      const tenant = holdings.tenants.find((t) => t.id === quota.tenant_id)?.name ?? quota.tenant_id;
      setSaved(`${tenant} on ${quota.pool}: nominal ${quota.nominal_gpus}, may borrow ${quota.borrowing_limit_gpus}`);
      onSaved();
    } catch (error) {
      setProblem(showProblem(error));
    }
  };

  const set = (field: keyof typeof values) => (e: { currentTarget: { value: string } }) =>
    setValues({ ...values, [field]: e.currentTarget.value });
  return (
    <form class="card" onSubmit={submit} aria-label="set a quota">
      <h2>Set a quota</h2>
      <div class="grid-form">
        <label for="quota-tenant">Tenant</label>
        <select id="quota-tenant" value={chosenTenant} onChange={(e) => setTenantId(e.currentTarget.value)}>
          {holdings.tenants.map((t) => <option value={t.id}>{t.name}</option>)}
        </select>
        <label for="quota-pool">Pool</label>
        <select id="quota-pool" value={chosenPool} onChange={(e) => setPool(e.currentTarget.value)}>
          {holdings.pools.map((p) => <option value={p.name}>{p.name}</option>)}
        </select>
        <label for="quota-nominal">Nominal GPUs</label>
        <div><input id="quota-nominal" inputMode="numeric" value={values.nominal_gpus} onInput={set("nominal_gpus")} />
          <FieldErrors problem={problem} loc="nominal_gpus" /></div>
        <label for="quota-borrowing">Borrowing limit (GPUs)</label>
        <div><input id="quota-borrowing" inputMode="numeric" value={values.borrowing_limit_gpus}
          onInput={set("borrowing_limit_gpus")} />
          <FieldErrors problem={problem} loc="borrowing_limit_gpus" /></div>
      </div>
      <ProblemMessage problem={problem} shownFields={FIELDS} />
      {saved && <p class="done" role="status">Saved: {saved}.</p>}
      <button type="submit" disabled={!chosenTenant || !chosenPool}>Save the quota</button>
    </form>
  );
}
