// A new LoRA run, or a run that trains on from a checkpoint (its base model and type, on a dataset of the user's
// choice): the few hyperparameters people change; the API validates, each message shows by its field.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, BaseModel, Checkpoint, Dataset, Job } from "../api";
import { FieldErrors, ProblemMessage, showProblem } from "../components/problems";
import { go } from "../route";

interface Field {
  loc: string;
  label: string;
  placeholder: string;
}

const NUMBERS: Field[] = [
  { loc: "hyperparameters.steps", label: "Steps", placeholder: "auto" },
  { loc: "hyperparameters.learning_rate", label: "Learning rate", placeholder: "auto" },
  { loc: "hyperparameters.batch_size", label: "Batch size", placeholder: "auto" },
  { loc: "hyperparameters.resolution", label: "Resolution", placeholder: "auto" },
  { loc: "hyperparameters.checkpoint_interval", label: "Checkpoint every (steps)", placeholder: "auto" },
  { loc: "lora.rank", label: "LoRA rank", placeholder: "16" },
];
const PROMPTS = "hyperparameters.validation_prompts";
const SHOWN = ["name", "dataset_id", "base_model", ...NUMBERS.map((f) => f.loc), PROMPTS];

/** The checkpoint a run starts from, and the run that wrote it. */
export interface Start {
  job: Job;
  checkpoint: Checkpoint;
}

/** A number when the text is one, else the text as typed, so that the API says what is wrong with it. */
export function typed(text: string): number | string {
  return text.trim() !== "" && !Number.isNaN(Number(text)) ? Number(text) : text;
}

/** The fields this form shows: a run from a checkpoint keeps that checkpoint's LoRA shape. */
function numbers(from?: Start): Field[] {
  return from ? NUMBERS.filter((f) => !f.loc.startsWith("lora.")) : NUMBERS;
}

function body(values: Record<string, string>, from?: Start): Record<string, unknown> {
  const hyperparameters: Record<string, unknown> = {};
  const lora: Record<string, unknown> = {};
  for (const { loc } of numbers(from)) {
    const text = values[loc]?.trim();
    if (!text) continue;
    const [group, name] = loc.split(".");
    (group === "lora" ? lora : hyperparameters)[name] = typed(text);
  }
  const prompts = (values[PROMPTS] ?? "").split("\n").map((p) => p.trim()).filter(Boolean);
  if (prompts.length) hyperparameters.validation_prompts = prompts;
  return {
    type: from?.job.type ?? "lora", dataset_id: values.dataset_id ?? "", base_model: values.base_model ?? "",
    ...(values.name?.trim() ? { name: values.name.trim() } : {}), hyperparameters,
    ...(from ? { from_checkpoint: from.checkpoint.id } : { lora }),
  };
}

function startingValues(from?: Start): Record<string, string> {
  if (!from) return {};
  const prompts = (from.job.hyperparameters.validation_prompts as string[] | undefined) ?? [];
  return {
    base_model: from.job.base_model, [PROMPTS]: prompts.join("\n"),
    ...(from.job.dataset_id ? { dataset_id: from.job.dataset_id } : {}),
  };
}

export function NewRun({ from, onClose }: { from?: Start; onClose?: () => void }) {
  const [datasets, setDatasets] = useState<Dataset[]>([]);
  const [models, setModels] = useState<BaseModel[]>([]);
  const [values, setValues] = useState<Record<string, string>>(() => startingValues(from));
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (from) first.current?.focus(); // opened from a checkpoint's row, further down the page
    api.datasets().then((page) => {
      setDatasets(page.items);
      if (page.items[0]) setValues((v) => ({ dataset_id: page.items[0].id, ...v }));
    }, (error) => setProblem(showProblem(error)));
    if (from) return; // its base model is the checkpoint's
    api.baseModels().then((list) => {
      setModels(list);
      if (list[0]) setValues((v) => ({ base_model: list[0].name, ...v }));
    }, (error) => setProblem(showProblem(error)));
  }, []);

  const set = (loc: string) => (e: { currentTarget: { value: string } }) =>
    setValues({ ...values, [loc]: e.currentTarget.value });

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const job = await api.createJob(body(values, from));
      go(`/runs/${job.id}`);
    } catch (error) {
      setProblem(showProblem(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card new-run" onSubmit={submit} aria-label="new run">
      <h2>{from ? `Train on from step ${from.checkpoint.step} of ${from.job.name}` : "New LoRA run"}</h2>
      {from && <p class="hint">A new {from.job.type} run that starts from the weights of checkpoint {from.checkpoint.id}
        {from.job.type === "lora" ? " (its LoRA rank and targets kept)" : ""}; its optimizer and step start afresh.</p>}
      <div class="grid-form">
        <label for="run-name">Name</label>
        <div><input id="run-name" ref={first} value={values.name ?? ""} onInput={set("name")} placeholder="optional" />
          <FieldErrors problem={problem} loc="name" /></div>
        <label for="run-dataset">Dataset</label>
        <div>
          <select id="run-dataset" value={values.dataset_id ?? ""} onChange={set("dataset_id")}>
            {datasets.map((d) => <option value={d.id}>{d.name} ({d.id})</option>)}
          </select>
          <FieldErrors problem={problem} loc="dataset_id" />
        </div>
        <label for="run-base-model">Base model</label>
        <div>
          {from ? <input id="run-base-model" value={values.base_model} readOnly /> : (
            <select id="run-base-model" value={values.base_model ?? ""} onChange={set("base_model")}>
              {models.map((m) => <option value={m.name}>{m.name}</option>)}
            </select>
          )}
          <FieldErrors problem={problem} loc="base_model" />
        </div>
        {from && <><label for="run-type">Type</label><div><input id="run-type" value={from.job.type} readOnly /></div></>}
        {numbers(from).map(({ loc, label, placeholder }) => (
          <>
            <label for={`run-${loc}`}>{label}</label>
            <div><input id={`run-${loc}`} name={loc} value={values[loc] ?? ""} placeholder={placeholder}
              inputMode="decimal" onInput={set(loc)} />
              <FieldErrors problem={problem} loc={loc} /></div>
          </>
        ))}
        <label for="run-prompts">Validation prompts (one a line)</label>
        <div><textarea id="run-prompts" rows={3} value={values[PROMPTS] ?? ""} onInput={set(PROMPTS)}
          placeholder="default: captions from the dataset" />
          <FieldErrors problem={problem} loc={PROMPTS} /></div>
      </div>
      <ProblemMessage problem={problem} shownFields={SHOWN} />
      <button type="submit" disabled={busy}>Start the run</button>
      {onClose && <> <button type="button" class="secondary" onClick={onClose}>Close</button></>}
    </form>
  );
}
