import { useRef, useState } from "preact/hooks";
import { api, ApiError, Checkpoint, isNotFound, Job, JobEvent } from "../api";
import { usePoll } from "../components/poll";
import { ProblemMessage, showProblem } from "../components/problems";
import { duration, NotFound, StatusPill } from "../components/status";
import { Checkpoints } from "../run/checkpoints";
import { Chart } from "../run/chart";
import { ENDED, RunControls } from "../run/controls";
import { EventLog } from "../run/log";
import { curves, eta, smoothed } from "../run/metrics";
import { Origin } from "../run/origin";
import { CAPTIONS, totalSteps } from "./runs";

const OTHER_METRICS: [string, string][] = [["lr", "learning rate"], ["grad_norm", "grad norm"],
  ["samples_per_s", "samples/s"], ["memory_mb", "memory (MB)"]];

export function RunPage({ id }: { id: string }) {
  const [job, setJob] = useState<Job | null>(null);
  const [missing, setMissing] = useState(false);
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [checkpoints, setCheckpoints] = useState<Checkpoint[]>([]);
  const [problem, setProblem] = useState<ApiError | null>(null);
  const after = useRef(0);
  const ticks = useRef(0);

  usePoll(async (signal) => {
    try {
      const fresh: JobEvent[] = [];
      for (;;) { // read every event there is, page by page
        const page = await api.events(id, after.current);
        fresh.push(...page.items);
        if (page.items.length) after.current = page.items[page.items.length - 1].id;
        if (page.next_cursor === null || signal.aborted) break;
      }
      if (fresh.length) setEvents((old) => [...old, ...fresh]);
      if (fresh.length || ticks.current++ % 2 === 0 || !job) setJob(await api.job(id));
      if (fresh.some((e) => e.type === "checkpoint") || !job) setCheckpoints(await api.checkpoints(id));
      setProblem(null);
    } catch (error) {
      if (isNotFound(error)) setMissing(true);
      else setProblem(showProblem(error));
    }
  }, 1500, [id]);

  if (missing) return <NotFound what="This run" />;
  if (!job) return <><ProblemMessage problem={problem} /><p class="loading">Loading…</p></>;
  const prompts = (job.hyperparameters.validation_prompts as string[] | undefined) ?? [];
  return (
    <>
      <div class="title-row">
        <h1>{job.name}</h1>
        <StatusPill status={job.status} />
        <span class="id">{job.id}</span>
        <span class="spacer" />
        <RunControls job={job} onChange={setJob} />
      </div>
      <ProblemMessage problem={problem} />
      <Origin job={job} />
      <Reason job={job} events={events} />
      <Progress job={job} events={events} />
      {job.type !== CAPTIONS && (
        <>
          <h2>Curves</h2>
          <Curves events={events} />
          <h2>Checkpoints</h2>
          <Checkpoints job={job} checkpoints={checkpoints} prompts={prompts} />
        </>
      )}
      <div class="two-columns">
        <section>
          <h2>Events</h2>
          <EventLog events={events} />
        </section>
        <section>
          <h2>Hyperparameters</h2>
          <Hyperparameters job={job} />
        </section>
      </div>
    </>
  );
}

function Reason({ job, events }: { job: Job; events: JobEvent[] }) {
  const preempted = job.attempt > 0 && ["queued", "preempted"].includes(job.status)
    ? events.findLast((e) => e.type === "preempt_requested") : undefined;
  if (preempted) {
    return (
      <p class="reason" role="status">
        Preempted at {new Date(preempted.created_at).toLocaleTimeString()}: {String(preempted.payload.reason)}.
        It resumes from its last checkpoint once admitted again{job.wait_reason ? `; waiting: ${job.wait_reason}` : ""}.
      </p>
    );
  }
  if ((job.status === "queued" || job.status === "admitted") && job.wait_reason) return <p class="reason" role="status">Waiting: {job.wait_reason}</p>;
  if (job.status === "failed" && job.error) return <pre class="reason failed" role="status">{job.error}</pre>;
  if (job.cancel_requested_at && !ENDED.includes(job.status)) return <p class="reason">Cancelling…</p>;
  if (job.status === "paused") {
    return <p class="reason" role="status">{job.step > 0
      ? `Paused at step ${job.step}; resume continues from its checkpoint.`
      : "Paused before its first step; resume puts it back in the queue."}</p>;
  }
  if (job.pause_requested_at && job.status === "running") {
    return <p class="reason" role="status">Pausing…, the trainer is writing a checkpoint.</p>;
  }
  if (job.borrowed) return <p class="reason">Running on borrowed capacity: it may be preempted.</p>;
  return null;
}

function Progress({ job, events }: { job: Job; events: JobEvent[] }) {
  const total = totalSteps(job);
  const left = job.status === "running" ? eta(events, total) : null;
  return (
    <p class="progress-line">
      <progress max={total ?? 1} value={job.step} aria-label="progress" />{" "}
      <span class="steps">{job.type === CAPTIONS ? "image" : "step"} {job.step} of {total ?? "?"}</span>
      {left !== null && <span class="eta"> · about {duration(left)} left</span>}
      {job.attempt > 1 && <span> · attempt {job.attempt}</span>}
    </p>
  );
}

function Curves({ events }: { events: JobEvent[] }) {
  const [weight, setWeight] = useState(0.6);
  const [log, setLog] = useState(false);
  const [clip, setClip] = useState(false);
  const series = curves(events);
  const loss = series.get("loss");
  if (!loss) return <p class="empty">No training steps reported yet.</p>;
  return (
    <>
      <div class="filters">
        <label>
          Smoothing{" "}
          <input type="range" min={0} max={0.99} step={0.01} value={weight} name="smoothing"
            onInput={(e) => setWeight(Number(e.currentTarget.value))} /> {weight.toFixed(2)}
        </label>
        <label><input type="checkbox" checked={log} name="log-scale"
          onChange={(e) => setLog(e.currentTarget.checked)} /> log scale</label>
        <label><input type="checkbox" checked={clip} name="clip-outliers"
          onChange={(e) => setClip(e.currentTarget.checked)} /> clip outliers</label>
      </div>
      <div class="charts">
        <Chart title="loss" steps={loss.steps} log={log} clip={clip} lines={[
          { label: "raw", values: loss.values, color: "rgba(37, 99, 235, 0.25)", width: 1 },
          { label: "smoothed", values: smoothed(loss, weight), color: "#2563eb", width: 2 }]} />
        {OTHER_METRICS.filter(([name]) => series.has(name)).map(([name, title]) => (
          <Chart title={title} steps={series.get(name)!.steps}
            lines={[{ label: title, values: series.get(name)!.values, color: "#0f766e" }]} />
        ))}
      </div>
    </>
  );
}

function Hyperparameters({ job }: { job: Job }) {
  return (
    <table class="hyperparameters">
      <tbody>
        <tr><th scope="row">base model</th><td>{job.base_model}</td></tr>
        <tr><th scope="row">type</th><td>{job.type}</td></tr>
        {Object.entries(job.hyperparameters).map(([name, value]) => (
          <tr><th scope="row">{name}</th><td>{typeof value === "object" ? JSON.stringify(value) : String(value)}</td></tr>
        ))}
        <tr><th scope="row">gpus</th><td>{job.gpus} in {job.pool}</td></tr>
        <tr><th scope="row">priority</th><td>{job.priority}</td></tr>
      </tbody>
    </table>
  );
}
