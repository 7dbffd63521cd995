// The playground: asks an endpoint for images (answered at once), then polls the generation until it ends.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api";
import { FieldErrors, ProblemMessage, showProblem } from "../components/problems";
import { StatusPill } from "../components/status";
import { EndpointOut, Generation, GENERATION_ENDED, endpointsApi } from "./endpoints-api";

const POLL_MS = 1000;
const NUMBERS = [
  { field: "seed", label: "Seed", hint: "random" },
  { field: "steps", label: "Steps", hint: "" },
  { field: "guidance", label: "Guidance (CFG)", hint: "" },
  { field: "resolution", label: "Resolution (px)", hint: "the model's native" },
  { field: "num_images", label: "Images", hint: "1" },
];
const SHOWN = ["prompt", "negative_prompt", "sampler", ...NUMBERS.map((n) => n.field)];

/** A number when the text is one, else the text as typed, so that the API says what is wrong with it. */
function typed(text: string): number | string {
  return text.trim() !== "" && !Number.isNaN(Number(text)) ? Number(text) : text;
}

export function Playground({ endpointId, defaults, trigger }: {
  endpointId: string;
  defaults: EndpointOut["defaults"];
  trigger: string | null; // the model's trigger word: the prompt starts with it
}) {
  const [values, setValues] = useState<Record<string, string>>({ prompt: "", negative_prompt: "", sampler: "" });
  useEffect(() => {
    if (trigger) setValues((now) => (now.prompt ? now : { ...now, prompt: `${trigger}, ` }));
  }, [trigger]);
  const [generation, setGeneration] = useState<Generation | null>(null);
  const [problem, setProblem] = useState<ApiError | null>(null);
  const polling = useRef<number | undefined>(undefined);

  useEffect(() => () => window.clearTimeout(polling.current), []);

  const follow = (id: string) => {
    polling.current = window.setTimeout(async () => {
      try {
        const latest = await endpointsApi.generation(id);
        setGeneration(latest);
        if (!GENERATION_ENDED.includes(latest.status)) follow(id);
      } catch (error) {
        setProblem(showProblem(error));
      }
    }, POLL_MS);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    window.clearTimeout(polling.current);
    setProblem(null);
    const body: Record<string, unknown> = { prompt: values.prompt, negative_prompt: values.negative_prompt };
    if (values.sampler) body.sampler = values.sampler;
    for (const { field } of NUMBERS) if (values[field]?.trim()) body[field] = typed(values[field]);
    try {
      const started = await endpointsApi.generate(endpointId, body);
      setGeneration(started);
      if (!GENERATION_ENDED.includes(started.status)) follow(started.id);
    } catch (error) {
      setProblem(showProblem(error));
    }
  };

  const set = (field: string) => (e: { currentTarget: { value: string } }) =>
    setValues({ ...values, [field]: e.currentTarget.value });
  const placeholder = (field: string, hint: string) => {
    const value = (defaults as Record<string, unknown>)[field];
    return value !== undefined && value !== null ? String(value) : hint;
  };
  const busy = generation !== null && !GENERATION_ENDED.includes(generation.status);
  return (
    <div class="two-columns playground">
      <form class="card" onSubmit={submit} aria-label="playground">
        <h2>Playground</h2>
        <div class="grid-form">
          <label for="play-prompt">Prompt</label>
          <div><textarea id="play-prompt" rows={3} value={values.prompt} onInput={set("prompt")} />
            <FieldErrors problem={problem} loc="prompt" /></div>
          <label for="play-negative">Negative prompt</label>
          <div><textarea id="play-negative" rows={2} value={values.negative_prompt} onInput={set("negative_prompt")}
            placeholder="optional" />
            <FieldErrors problem={problem} loc="negative_prompt" /></div>
          {NUMBERS.map(({ field, label, hint }) => (
            <>
              <label for={`play-${field}`}>{label}</label>
              <div><input id={`play-${field}`} name={field} inputMode="decimal" value={values[field] ?? ""}
                placeholder={placeholder(field, hint)} onInput={set(field)} />
                <FieldErrors problem={problem} loc={field} /></div>
            </>
          ))}
          <label for="play-sampler">Sampler</label>
          <div>
            <select id="play-sampler" value={values.sampler} onChange={set("sampler")}>
              <option value="">the endpoint's default ({defaults.sampler ?? "dpm"})</option>
              <option value="dpm">Flow-DPM-Solver</option>
              <option value="euler">Flow-Euler</option>
            </select>
            <FieldErrors problem={problem} loc="sampler" />
          </div>
        </div>
        <ProblemMessage problem={problem} shownFields={SHOWN} />
        <button type="submit" disabled={busy}>{busy ? "Generating…" : "Generate"}</button>
      </form>
      {generation && <Result generation={generation} />}
    </div>
  );
}

function Result({ generation }: { generation: Generation }) {
  const timings = Object.entries(generation.timings).filter(([, value]) => typeof value === "number");
  return (
    <section class="card generation" aria-label="generation" data-generation-id={generation.id}>
      <div class="title-row"><h2>Generation</h2><StatusPill status={generation.status} /></div>
      <div class="id">{generation.id}</div>
      {generation.error && <p class="reason failed" role="alert">{generation.error}</p>}
      <div class="generated">
        {generation.image_urls.map((url, index) => (
          <a href={url} target="_blank" rel="noopener">
            <img src={url} alt={`image ${index + 1}, seed ${Number(generation.params.seed) + index}`} />
          </a>
        ))}
      </div>
      {timings.length > 0 && (
        <table class="timings">
          <caption>Timings</caption>
          <tbody>
            {timings.map(([name, value]) => (
              <tr><th>{name.replace(/_s$/, "").replace(/_/g, " ")}</th>
                <td>{name.endsWith("_s") ? `${value.toFixed(3)} s` : value}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      <p class="hint">
        {["seed", "steps", "guidance", "resolution", "sampler"].map((key) => `${key} ${String(generation.params[key])}`)
          .join(" · ")}
      </p>
    </section>
  );
}
