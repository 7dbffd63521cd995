// Showing the API's problems: a field's message next to the field, the rest above the form.
import { ApiError } from "../api";

/** Any thrown value as an ApiError, so that every failure shows the same way. */
export function showProblem(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError(0, error instanceof Error ? error.message : String(error));
}

/** The API's message for the field at `loc` (e.g. "hyperparameters.steps"), placed next to that field. */
export function FieldErrors({ problem, loc }: { problem: ApiError | null; loc: string }) {
  const message = problem?.field(loc);
  return message ? (
    <span class="field-error" role="alert" data-field={loc}>
      {message}
    </span>
  ) : null;
}

/** The problem's detail, unless every field it names has a FieldErrors of `shownFields` showing it. */
export function ProblemMessage({ problem, shownFields = [] }: { problem: ApiError | null; shownFields?: string[] }) {
  if (!problem) return null;
  const elsewhere = problem.errors.filter((e) => !shownFields.includes(e.loc));
  if (problem.errors.length > 0 && elsewhere.length === 0) return null;
  const text = elsewhere.length ? elsewhere.map((e) => `${e.loc}: ${e.msg}`).join("; ") : problem.detail;
  return (
    <p class="problem" role="alert">
      {text}
    </p>
  );
}
