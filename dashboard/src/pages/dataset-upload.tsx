// Uploading into a dataset: a folder, or files and .zip archives, in one multipart request with progress.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api";
import { showProblem } from "../components/problems";
import { bytes, OnInvalid, UploadReport, uploadFiles } from "./datasets-api";

export function Upload({ datasetId, onUploaded }: { datasetId: string; onUploaded: () => void }) {
  const folder = useRef<HTMLInputElement>(null);
  const [files, setFiles] = useState<File[]>([]);
  const [onInvalid, setOnInvalid] = useState<OnInvalid>("reject");
  const [sent, setSent] = useState<[number, number] | null>(null);
  const [report, setReport] = useState<UploadReport | null>(null);
  const [problem, setProblem] = useState<ApiError | null>(null);

  useEffect(() => {
    if (folder.current) folder.current.webkitdirectory = true; // no JSX attribute for it
  }, []);

  const choose = (event: { currentTarget: HTMLInputElement }) => {
    setFiles(Array.from(event.currentTarget.files ?? []));
    setReport(null);
    setProblem(null);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setProblem(null);
    setReport(null);
    setSent([0, 1]);
    try {
      setReport(await uploadFiles(datasetId, files, onInvalid, (done, total) => setSent([done, total])));
      onUploaded();
    } catch (error) {
      setProblem(showProblem(error));
    } finally {
      setSent(null);
    }
  };

  const total = files.reduce((sum, file) => sum + file.size, 0);
  return (
    <form class="card upload" onSubmit={submit} aria-label="upload images">
      <h2>Upload images</h2>
      <p class="hint">Images with a caption in a .txt file of the same name, or a metadata.jsonl; or .zip archives of them.</p>
      <div class="grid-form">
        <label for="upload-folder">A folder</label>
        <input id="upload-folder" ref={folder} type="file" multiple onChange={choose} />
        <label for="upload-files">Or files or a .zip</label>
        <input id="upload-files" type="file" multiple accept="image/*,.txt,.jsonl,.zip" onChange={choose} />
        <label for="upload-on-invalid">If an image is invalid</label>
        <select id="upload-on-invalid" value={onInvalid}
          onChange={(e) => setOnInvalid(e.currentTarget.value as OnInvalid)}>
          <option value="reject">store nothing, and say why</option>
          <option value="skip">store the valid images, list the rest</option>
        </select>
      </div>
      {files.length > 0 && <p class="hint">{files.length} file(s), {bytes(total)} chosen</p>}
      <button type="submit" disabled={files.length === 0 || sent !== null}>Upload</button>
      {sent && (
        <div class="upload-progress">
          <progress aria-label="upload progress" max={sent[1]} value={sent[0]} />{" "}
          {Math.round((100 * sent[0]) / Math.max(sent[1], 1))}%
          {sent[0] >= sent[1] && sent[1] > 1 && " sent; validating…"}
        </div>
      )}
      {problem && (
        <div class="upload-problem">
          <p class="problem" role="alert" data-field="files">{problem.detail}</p>
          <RejectedFiles rejected={problem.errors.map((e) => ({ name: e.loc, reason: e.msg }))} />
        </div>
      )}
      {report && (
        <div class="upload-result" role="status">
          <p class="done">Stored {report.accepted} image(s), {bytes(report.accepted_bytes)}.</p>
          <RejectedFiles rejected={report.rejected} />
          {report.warnings.length > 0 && <ul class="warnings">{report.warnings.map((w) => <li>{w}</li>)}</ul>}
        </div>
      )}
    </form>
  );
}

export function RejectedFiles({ rejected }: { rejected: { name: string; reason: string }[] }) {
  if (rejected.length === 0) return null;
  return (
    <table class="rejected">
      <thead><tr><th>Rejected file</th><th>Why</th></tr></thead>
      <tbody>
        {rejected.map((file) => <tr data-rejected={file.name}><td>{file.name}</td><td>{file.reason}</td></tr>)}
      </tbody>
    </table>
  );
}
