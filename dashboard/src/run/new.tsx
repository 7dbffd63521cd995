// A new LoRA run: the few hyperparameters people change; the API validates, each message shows by its field.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, BaseModel, Dataset } from "../api";
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

/** A number when the text is one, else the text as typed, so that the API says what is wrong with it. */
function typed(text: string): number | string {
  return text.trim() !== "" && !Number.isNaN(Number(text)) ? Number(text) : text;
}

function body(values: Record<string, string>): Record<string, unknown> {
  const hyperparameters: Record<string, unknown> = {};
  const lora: Record<string, unknown> = {};
  for (const { loc } of NUMBERS) {
    const text = values[loc]?.trim();
    if (!text) continue;
    const [group, name] = loc.split(".");
    (group === "lora" ? lora : hyperparameters)[name] = typed(text);
  }
  const prompts = (values[PROMPTS] ?? "").split("\n").map((p) => p.trim()).filter(Boolean);
  if (prompts.length) hyperparameters.validation_prompts = prompts;
  return {
    type: "lora", dataset_id: values.dataset_id ?? "", base_model: values.base_model ?? "",
    ...(values.name?.trim() ? { name: values.name.trim() } : {}), hyperparameters, lora,
  };
}

export function NewRun() {
  const [datasets, setDatasets] = useState<Dataset[]>([]);
  const [models, setModels] = useState<BaseModel[]>([]);
  const [values, setValues] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.datasets().then((page) => {
      setDatasets(page.items);
      if (page.items[0]) setValues((v) => ({ dataset_id: page.items[0].id, ...v }));
    }, (error) => setProblem(showProblem(error)));
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
      const job = await api.createJob(body(values));
      go(`/runs/${job.id}`);
    } catch (error) {
      setProblem(showProblem(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card new-run" onSubmit={submit} aria-label="new run">
      <h2>New LoRA run</h2>
      <div class="grid-form">
        <label for="run-name">Name</label>
        <div><input id="run-name" value={values.name ?? ""} onInput={set("name")} placeholder="optional" />
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
          <select id="run-base-model" value={values.base_model ?? ""} onChange={set("base_model")}>
            {models.map((m) => <option value={m.name}>{m.name}</option>)}
          </select>
          <FieldErrors problem={problem} loc="base_model" />
        </div>
        {NUMBERS.map(({ loc, label, placeholder }) => (
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
    </form>
  );
}
