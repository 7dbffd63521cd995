import { useEffect, useState } from "preact/hooks";

/** The path after `#` (e.g. "/runs/job_1"), split into its parts; the page follows the hash. */
export function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    window.addEventListener("hashchange", onChange);
    onChange(); // a change between the first render and now

    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
}

export function go(path: string): void {
  location.hash = `#${path}`;
}
