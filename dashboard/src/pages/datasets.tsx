// The tenant's datasets: a list, and a form that creates one (then opens it, to upload images).
import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { usePolled } from "../components/poll";
import { FieldErrors, ProblemMessage, showProblem } from "../components/problems";
import { age } from "../components/status";
import { go } from "../route";
import { bytes, datasetsApi } from "./datasets-api";

export function DatasetsPage() {
  const [creating, setCreating] = useState(false);

  const [datasets, problem] = usePolled(async () => (await datasetsApi.list()).items, 3000, []);

  return (
    <>
      <div class="title-row">
        <h1>Datasets</h1>
        <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
          {creating ? "Close the form" : "New dataset"}
        </button>
      </div>
      {creating && <NewDataset />}
      <ProblemMessage problem={problem} />
      {datasets === null ? <p class="loading">Loading…</p> : datasets.length === 0 ? (
        <p class="empty">No datasets yet: create one, then upload a folder of images or a .zip.</p>
      ) : (
        <table class="runs datasets">
          <thead>
            <tr><th>Name</th><th>Images</th><th>Size</th><th>Created</th></tr>
          </thead>
          <tbody>
            {datasets.map((dataset) => (
              <tr data-dataset-id={dataset.id} key={dataset.id}>
                <td><a href={`#/datasets/${dataset.id}`}>{dataset.name}</a><div class="id">{dataset.id}</div>
                  {dataset.description && <div class="hint">{dataset.description}</div>}</td>
                <td>{dataset.file_count}</td>
                <td>{bytes(dataset.total_bytes)}</td>
                <td title={dataset.created_at}>{age(dataset.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function NewDataset() {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const dataset = await datasetsApi.create(name, description);
      go(`/datasets/${dataset.id}`);
    } catch (error) {
      setProblem(showProblem(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={submit} aria-label="new dataset">
      <h2>New dataset</h2>
      <div class="grid-form">
        <label for="dataset-name">Name</label>
        <div><input id="dataset-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          <FieldErrors problem={problem} loc="name" /></div>
        <label for="dataset-description">Description</label>
        <div><textarea id="dataset-description" rows={2} value={description} placeholder="optional"
          onInput={(e) => setDescription(e.currentTarget.value)} />
          <FieldErrors problem={problem} loc="description" /></div>
      </div>
      <ProblemMessage problem={problem} shownFields={["name", "description"]} />
      <button type="submit" disabled={busy}>Create the dataset</button>
    </form>
  );
}
