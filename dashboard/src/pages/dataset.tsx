// One dataset: its numbers, an upload (a folder or files or a .zip, with progress), what each upload
// rejected and why, auto-captioning, and its images as thumbnails with their captions.
import { useEffect, useState } from "preact/hooks";
import { ApiError, isNotFound } from "../api";
import { ProblemMessage, showProblem } from "../components/problems";
import { NotFound } from "../components/status";
import { bytes, DatasetDetail, DatasetFile, datasetsApi } from "./datasets-api";
import { AutoCaption, AutoCaptions } from "./dataset-captions";
import { RejectedFiles, Upload } from "./dataset-upload";

export function DatasetPage({ id }: { id: string }) {
  const [dataset, setDataset] = useState<DatasetDetail | null>(null);
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [version, setVersion] = useState(0); // bumped by each upload, to read the dataset and its files again

  useEffect(() => {
    datasetsApi.get(id).then(setDataset, (error) => setProblem(showProblem(error)));
  }, [id, version]);

  if (problem && isNotFound(problem)) return <NotFound what="This dataset" />;
  if (!dataset) return problem ? <ProblemMessage problem={problem} /> : <p class="loading">Loading…</p>;
  const { stats } = dataset;
  return (
    <>
      <p class="hint"><a href="#/datasets">Datasets</a> /</p>
      <h1>{dataset.name}</h1>
      <div class="id">{dataset.id}</div>
      {dataset.description && <p>{dataset.description}</p>}
      <p class="dataset-stats">
        <b>{dataset.file_count}</b> images, {bytes(dataset.total_bytes)}; {stats.captioned} captioned,{" "}
        {stats.uncaptioned} without a caption
        {stats.auto_captioned > 0 && `; ${stats.auto_captioned} auto-captioned`}
        {stats.min_width !== null && `; ${span(stats.min_width, stats.max_width)} × ${span(stats.min_height, stats.max_height)} px`}
        {Object.keys(stats.formats).length > 0 &&
          `; ${Object.entries(stats.formats).map(([format, count]) => `${count} ${format}`).join(", ")}`}
      </p>
      <Upload datasetId={dataset.id} onUploaded={() => setVersion(version + 1)} />
      {dataset.file_count > 0 && <AutoCaption datasetId={dataset.id} onDone={() => setVersion((v) => v + 1)} />}
      <Reports dataset={dataset} />
      <Thumbnails datasetId={dataset.id} version={version} />
    </>
  );
}

/** "48" or "32–64": a range of sizes, one number when all are equal. */
const span = (low: number | null, high: number | null) => (low === high ? `${low}` : `${low}–${high}`);

function Reports({ dataset }: { dataset: DatasetDetail }) {
  const uploads = [...(dataset.report.uploads ?? [])].reverse();
  if (uploads.length === 0) return null;
  return (
    <section aria-label="validation report">
      <h2>Validation report</h2>
      {uploads.map((upload) => (
        <div class="card upload-report">
          <div><time title={upload.at}>{new Date(upload.at).toLocaleString()}</time>: {upload.accepted} stored,{" "}
            {upload.rejected_count} rejected (on invalid: {upload.on_invalid})</div>
          <RejectedFiles rejected={upload.rejected} />
          {upload.rejected_count > upload.rejected.length &&
            <p class="hint">and {upload.rejected_count - upload.rejected.length} more</p>}
          {upload.warnings.length > 0 && <ul class="warnings">{upload.warnings.map((w) => <li>{w}</li>)}</ul>}
        </div>
      ))}
    </section>
  );
}

function Thumbnails({ datasetId, version }: { datasetId: string; version: number }) {
  const [files, setFiles] = useState<DatasetFile[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiError | null>(null);

  const load = async (after: string | null) => {
    try {
      const page = await datasetsApi.files(datasetId, after);
      setFiles((shown) => (after ? [...shown, ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (error) {
      setProblem(showProblem(error));
    }
  };
  useEffect(() => void load(null), [datasetId, version]);

  return (
    <section aria-label="images">
      <h2>Images</h2>
      <ProblemMessage problem={problem} />
      {files.length === 0 ? <p class="empty">No images yet.</p> : (
        <div class="thumbnails">
          {files.map((file) => (
            <figure data-file={file.name} key={file.id}>
              <img src={file.url} alt={file.caption || file.name} loading="lazy" width={128} height={128} />
              <figcaption>
                <span class="caption">{file.caption || <i>no caption</i>}</span>
                <AutoCaptions captions={file.captions} />
                <span class="hint">{file.name} · {file.width}×{file.height}</span>
              </figcaption>
            </figure>
          ))}
        </div>
      )}
      {cursor && <button type="button" class="secondary" onClick={() => load(cursor)}>More images</button>}
    </section>
  );
}
