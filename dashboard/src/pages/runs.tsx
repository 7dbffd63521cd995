import { useState } from "preact/hooks";
import { api, Job } from "../api";
import { usePolled } from "../components/poll";
import { ProblemMessage } from "../components/problems";
import { age, StatusPill } from "../components/status";
import { NewRun } from "../run/new";

const STATUSES = ["validating", "queued", "admitted", "running", "paused", "preempted", "succeeded", "failed",
  "cancelled"];

/** A captioning job's type: its progress counts images, not steps (it trains nothing). */
export const CAPTIONS = "captions";

export function totalSteps(job: Job): number | null {
  const steps = job.type === CAPTIONS ? job.hyperparameters.images : job.hyperparameters.steps;
  return typeof steps === "number" ? steps : null;
}

export function RunsPage() {
  const [status, setStatus] = useState("");
  const [search, setSearch] = useState("");
  const [creating, setCreating] = useState(false);

  const [jobs, problem] = usePolled(async () => (await api.jobs(status)).items, 3000, [status]);

  const needle = search.trim().toLowerCase();
  const shown = (jobs ?? []).filter((j) => !needle || j.name.toLowerCase().includes(needle) || j.id.includes(needle));
  return (
    <>
      <div class="title-row">
        <h1>Runs</h1>
        <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
          {creating ? "Close the form" : "New run"}
        </button>
      </div>
      {creating && <NewRun />}
      <div class="filters">
        <label>
          Status{" "}
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)} name="status">
            <option value="">all</option>
            {STATUSES.map((s) => <option value={s}>{s}</option>)}
          </select>
        </label>
        <label>
          Search{" "}
          <input type="search" name="search" placeholder="name or id" value={search}
            onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
      </div>
      <ProblemMessage problem={problem} />
      {jobs === null ? <p class="loading">Loading…</p> : shown.length === 0 ? <p class="empty">No runs.</p> : (
        <table class="runs">
          <thead>
            <tr><th>Name</th><th>Status</th><th>Progress</th><th>Base model</th><th>Type</th><th>Age</th><th>Pool</th></tr>
          </thead>
          <tbody>
            {shown.map((job) => <RunRow job={job} key={job.id} />)}
          </tbody>
        </table>
      )}
    </>
  );
}

function RunRow({ job }: { job: Job }) {
  const total = totalSteps(job);
  return (
    <tr data-job-id={job.id}>
      <td><a href={`#/runs/${job.id}`}>{job.name}</a><div class="id">{job.id}</div></td>
      <td><StatusPill status={job.status} /></td>
      <td class="progress-cell">
        <progress max={total ?? 1} value={job.step} /> {job.step}/{total ?? "?"}
      </td>
      <td>{job.base_model}</td>
      <td>{job.type}</td>
      <td title={job.created_at}>{age(job.created_at)}</td>
      <td>{job.pool}{job.gpus > 1 ? ` ×${job.gpus}` : ""}</td>
    </tr>
  );
}
