// Checkpoints as a grid of their sample images (rows: steps, columns: validation prompts), a side-by-side
// compare of two steps, and per checkpoint: its weights to download, promoting it to a model, and a new run that
// trains on from it.
import { useState } from "preact/hooks";
import { api, ApiError, Checkpoint, Job, request } from "../api";
import { FieldErrors, ProblemMessage, showProblem } from "../components/problems";
import { NewRun } from "./new";

interface WeightFile {
  name: string;
  size_bytes: number;
  url: string;
}

export function Checkpoints({ job, checkpoints, prompts }: { job: Job; checkpoints: Checkpoint[]; prompts: string[] }) {
  const [comparing, setComparing] = useState(false);
  const [start, setStart] = useState<Checkpoint | null>(null);
  if (checkpoints.length === 0) return <p class="empty">No checkpoints yet.</p>;
  const columns = Math.max(prompts.length, ...checkpoints.map((c) => c.sample_urls.length));
  const header = Array.from({ length: columns }, (_, i) => prompts[i] ?? `sample ${i + 1}`);
  return (
    <>
      <button type="button" class="secondary" onClick={() => setComparing(!comparing)} aria-expanded={comparing}>
        {comparing ? "Close the compare view" : "Compare two steps"}
      </button>
      {comparing && <Compare checkpoints={checkpoints} header={header} />}
      {start && <NewRun key={start.id} from={{ job, checkpoint: start }} onClose={() => setStart(null)} />}
      <table class="samples" aria-label="checkpoint samples">
        <thead>
          <tr><th>Step</th>{header.map((p) => <th scope="col">{p}</th>)}<th /></tr>
        </thead>
        <tbody>
          {checkpoints.map((c) => (
            <tr data-step={c.step} key={c.id}>
              <th scope="row">{c.step}<div class="id">loss {formatLoss(c.metrics.loss)}</div></th>
              {header.map((prompt, i) => (
                <td>{c.sample_urls[i] ? <img src={c.sample_urls[i]} alt={`step ${c.step}: ${prompt}`} /> : "—"}</td>
              ))}
              <td class="actions">
                <Weights checkpoint={c} /><Promote checkpoint={c} />
                <button type="button" class="secondary" onClick={() => setStart(c)} aria-expanded={start?.id === c.id}
                  aria-label={`Train on from here (step ${c.step})`}>Train on from here</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function formatLoss(loss: unknown): string {
  return typeof loss === "number" ? loss.toFixed(4) : "?";
}

function Compare({ checkpoints, header }: { checkpoints: Checkpoint[]; header: string[] }) {
  const [left, setLeft] = useState(checkpoints[0].step);
  const [right, setRight] = useState(checkpoints[checkpoints.length - 1].step);
  const pick = (step: number) => checkpoints.find((c) => c.step === step) ?? checkpoints[0];
  const sides = [pick(left), pick(right)];
  const chooser = (label: string, value: number, set: (step: number) => void) => (
    <label>
      {label}{" "}
      <select value={value} onChange={(e) => set(Number(e.currentTarget.value))}>
        {checkpoints.map((c) => <option value={c.step}>step {c.step}</option>)}
      </select>
    </label>
  );
  return (
    <section class="compare card" aria-label="compare">
      <div class="filters">{chooser("Left", left, setLeft)}{chooser("Right", right, setRight)}</div>
      {header.map((prompt, i) => (
        <figure class="pair">
          <figcaption>{prompt}</figcaption>
          {sides.map((c) => (
            <div class="side" data-step={c.step}>
              {c.sample_urls[i] ? <img src={c.sample_urls[i]} alt={`step ${c.step}: ${prompt}`} /> : "—"}
              <div>step {c.step}</div>
            </div>
          ))}
        </figure>
      ))}
    </section>
  );
}

function Weights({ checkpoint }: { checkpoint: Checkpoint }) {
  const [files, setFiles] = useState<WeightFile[] | null>(null);
  const [problem, setProblem] = useState<ApiError | null>(null);
  const load = async () => {
    try {
      setFiles(await request<WeightFile[]>(`/v1/checkpoints/${encodeURIComponent(checkpoint.id)}/files`));
    } catch (error) {
      setProblem(showProblem(error));
    }
  };
  if (files) {
    return (
      <ul class="files">
        {files.map((f) => (
          <li><a href={f.url} download={f.name.split("/").pop()}>{f.name}</a> ({Math.ceil(f.size_bytes / 1024)} KiB)</li>
        ))}
      </ul>
    );
  }
  return (
    <>
      <button type="button" class="secondary" onClick={load}>Download weights</button>
      <ProblemMessage problem={problem} />
    </>
  );
}

function Promote({ checkpoint }: { checkpoint: Checkpoint }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [promoted, setPromoted] = useState<string | null>(null);
  if (promoted) return <p class="done" role="status">Promoted: model {promoted}</p>;
  if (!open) return <button type="button" onClick={() => setOpen(true)}>Promote</button>;
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      const model = await api.promote(checkpoint.id, name);
      setPromoted(`${model.name} (${model.id})`);
    } catch (error) {
      setProblem(showProblem(error));
    }
  };
  const id = `promote-${checkpoint.id}`;
  return (
    <form class="promote" onSubmit={submit} aria-label={`promote step ${checkpoint.step}`}>
      <label for={id}>Model name</label>
      <input id={id} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <FieldErrors problem={problem} loc="name" />
      <ProblemMessage problem={problem} shownFields={["name"]} />
      <button type="submit">Promote step {checkpoint.step}</button>
    </form>
  );
}
