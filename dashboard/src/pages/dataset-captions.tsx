// Auto-captioning from the dataset page: start a captioning job with the platform's captioner and
// scorer, follow it to its end (images done of all), then show the dataset again with its new captions.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, Job, request } from "../api";
import { ProblemMessage, showProblem } from "../components/problems";
import { CaptionOut } from "./datasets-api";

const ENDED = ["succeeded", "failed", "cancelled"];
const POLL_MS = 1000;

export function AutoCaption({ datasetId, onDone }: { datasetId: string; onDone: () => void }) {
  const [job, setJob] = useState<Job | null>(null);
  const [problem, setProblem] = useState<ApiError | null>(null);
  const running = job !== null && !ENDED.includes(job.status);

  useEffect(() => {
    if (!running) return;
    const timer = setTimeout(() => api.job(job.id).then((next) => {
      setJob(next);
      if (ENDED.includes(next.status)) onDone();
    }, (error) => setProblem(showProblem(error))), POLL_MS);
    return () => clearTimeout(timer);
  }, [job]);

  const start = async () => {
    setProblem(null);
    try {
      setJob(await request<Job>(`/v1/datasets/${encodeURIComponent(datasetId)}/captions`, { method: "POST", json: {} }));
    } catch (error) {
      setProblem(showProblem(error));
    }
  };
  const images = job ? Number(job.hyperparameters.images ?? 0) : 0;
  return (
    <section aria-label="auto-captioning" class="auto-caption">
      <button type="button" class="secondary" disabled={running} onClick={start}>Caption automatically</button>
      {job && (
        <span role="status">
          {" "}Captioning job <a href={`#/runs/${job.id}`}>{job.id}</a>: {job.status}
          {job.status === "running" && images > 0 && `, ${job.step} of ${images} images`}
          {job.error && ` (${job.error})`}
        </span>
      )}
      <ProblemMessage problem={problem} />
    </section>
  );
}

/** The captions captioners wrote for one image, with their CLIP scores. */
export function AutoCaptions({ captions }: { captions: CaptionOut[] }) {
  const written = captions.filter((caption) => caption.source !== "user");
  if (written.length === 0) return null;
  return (
    <ul class="auto-captions">
      {written.map((caption) => (
        <li data-source={caption.source} title={`by ${caption.source}`}>
          {caption.text}
          {caption.score !== null && <span class="hint"> · {caption.score.toFixed(0)}</span>}
        </li>
      ))}
    </ul>
  );
}
