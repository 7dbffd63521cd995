import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api";
import { showProblem } from "./problems";

/** Calls `tick` now and then every `everyMs` while the page is visible (not while hidden), until unmounted
 * or `deps` change. A tick starts only after the previous one has finished. */
export function usePoll(tick: (signal: AbortSignal) => Promise<void>, everyMs: number, deps: unknown[]): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    let running = false;
    const run = async () => {
      window.clearTimeout(timer);
      if (controller.signal.aborted || document.hidden || running) return;
      running = true;
      try {
        await latest.current(controller.signal);
      } catch (error) {
        if (!(error instanceof DOMException && error.name === "AbortError")) console.warn(error);
      } finally {
        running = false;
      }
      if (!controller.signal.aborted) timer = window.setTimeout(run, everyMs);
    };
    const onVisible = () => {
      if (!document.hidden) void run();
    };
    document.addEventListener("visibilitychange", onVisible);
    void run();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, deps);
}

/** What `load` answers, read as `usePoll` ticks, and the problem of the last read (null once one succeeds). */
export function usePolled<T>(load: (signal: AbortSignal) => Promise<T>, everyMs: number,
                             deps: unknown[]): [T | null, ApiError | null] {
  const [value, setValue] = useState<T | null>(null);
  const [problem, setProblem] = useState<ApiError | null>(null);
  usePoll(async (signal) => {
    try {
      setValue(await load(signal));
      setProblem(null);
    } catch (error) {
      setProblem(showProblem(error));
    }
  }, everyMs, deps);
  return [value, problem];
}
