// What a user does to a run: pause it (kept, its GPUs freed) and resume it, extend it to more steps, cancel it.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, Job } from "../api";
import { FieldErrors, ProblemMessage, showProblem } from "../components/problems";
import { CAPTIONS, totalSteps } from "../pages/runs";
import { typed } from "./new";

export const ENDED = ["succeeded", "failed", "cancelled"];
const PAUSABLE = ["queued", "admitted", "running"];
const EXTENSIBLE = ["queued", "admitted", "running", "paused", "succeeded"];

type Update = (job: Job) => void;

export function RunControls({ job, onChange }: { job: Job; onChange: Update }) {
  const pausing = job.pause_requested_at !== null;
  const stopping = job.cancel_requested_at !== null;
  return (
    <span class="run-controls" role="group" aria-label="run controls">
      {PAUSABLE.includes(job.status) && !pausing && !stopping && <PauseOrResume job={job} onChange={onChange} pause />}
      {(job.status === "paused" || (pausing && job.status === "running")) && <PauseOrResume job={job} onChange={onChange} />}
      {EXTENSIBLE.includes(job.status) && job.type !== CAPTIONS && !stopping && <Extend job={job} onChange={onChange} />}
      {!ENDED.includes(job.status) && <Cancel job={job} onCancelled={onChange} />}
    </span>
  );
}

function PauseOrResume({ job, onChange, pause = false }: { job: Job; onChange: Update; pause?: boolean }) {
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const act = async () => {
    setBusy(true);
    try {
      onChange(await (pause ? api.pause(job.id) : api.resume(job.id)));
      setProblem(null);
    } catch (error) {
      setProblem(showProblem(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class="secondary" onClick={act} disabled={busy}>{pause ? "Pause" : "Resume"}</button>
      <ProblemMessage problem={problem} />
    </>
  );
}

/** A sensible longer run: half as many steps again. */
function longer(total: number): number {
  return total + Math.max(1, Math.round(total / 2));
}

function Extend({ job, onChange }: { job: Job; onChange: Update }) {
  const total = totalSteps(job) ?? job.step;
  const [open, setOpen] = useState(false);
  const [steps, setSteps] = useState("");
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), [open]);
  if (!open) {
    const start = () => {
      setSteps(String(longer(total)));
      setProblem(null);
      setOpen(true);
    };
    return <button type="button" class="secondary" onClick={start}>Extend</button>;
  }
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      onChange(await api.extend(job.id, typed(steps)));
      setOpen(false);
    } catch (error) {
      setProblem(showProblem(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="extend" onSubmit={submit} aria-label="extend" noValidate>
      <label for="extend-steps">New total steps</label>{" "}
      <input id="extend-steps" type="number" value={steps} onInput={(e) => setSteps(e.currentTarget.value)}
        ref={input} />{" "}
      <button type="submit" disabled={busy}>Extend to {steps || "?"} steps</button>{" "}
      <button type="button" class="secondary" onClick={() => setOpen(false)}>Close</button>
      <FieldErrors problem={problem} loc="steps" />
      <ProblemMessage problem={problem} shownFields={["steps"]} />
    </form>
  );
}

function Cancel({ job, onCancelled }: { job: Job; onCancelled: Update }) {
  const [asking, setAsking] = useState(false);
  const [problem, setProblem] = useState<ApiError | null>(null);
  if (!asking) return <button type="button" class="danger" onClick={() => setAsking(true)}>Cancel run</button>;
  const cancel = async () => {
    try {
      onCancelled(await api.cancel(job.id));
      setAsking(false);
    } catch (error) {
      setProblem(showProblem(error));
    }
  };
  return (
    <span class="confirm" role="group" aria-label="confirm cancel">
      Cancel {job.name}?{" "}
      <button type="button" class="danger" onClick={cancel}>Yes, cancel it</button>{" "}
      <button type="button" class="secondary" onClick={() => setAsking(false)}>No</button>
      <ProblemMessage problem={problem} />
    </span>
  );
}
