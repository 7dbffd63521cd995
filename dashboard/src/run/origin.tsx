// Where a run started from: the checkpoint whose weights it took, with that checkpoint's step and run.
import { useEffect, useState } from "preact/hooks";
import { api, Checkpoint, Job } from "../api";

interface Source {
  job: Job;
  checkpoint: Checkpoint;
}

/** The run holding checkpoint `id`: the API names no checkpoint's run, so the tenant's earlier runs of the same
 * base model and type are searched, newest first. Null when none holds it any more (pruned, or deleted). */
async function findSource(job: Job, id: string): Promise<Source | null> {
  const candidates = (await api.jobs("")).items.filter((j) => j.id !== job.id && j.type === job.type &&
    j.base_model_id === job.base_model_id && j.created_at <= job.created_at);
  candidates.sort((a, b) => b.created_at.localeCompare(a.created_at));
  for (const candidate of candidates) {
    const checkpoint = (await api.checkpoints(candidate.id)).find((c) => c.id === id);
    if (checkpoint) return { job: candidate, checkpoint };
  }
  return null;
}

export function Origin({ job }: { job: Job }) {
  const id = job.from_checkpoint_id;
  const [source, setSource] = useState<Source | null>(null);
  useEffect(() => {
    if (id) findSource(job, id).then(setSource, () => setSource(null));
  }, [id]);
  if (!id) return null;
  return (
    <p class="origin">
      Started from checkpoint <span class="id">{id}</span>
      {source && <> (step {source.checkpoint.step} of <a href={`#/runs/${source.job.id}`}>{source.job.name}</a>)</>}
    </p>
  );
}
