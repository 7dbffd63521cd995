export function StatusPill({ status }: { status: string }) {
  return <span class={`pill pill-${status}`}>{status}</span>;
}

export function NotFound({ what }: { what: string }) {
  return (
    <section class="not-found" role="alert">
      <h1>Not found</h1>
      <p>{what} does not exist, or this API key may not see it.</p>
      <a href="#/runs">Back to runs</a>
    </section>
  );
}

const UNITS: [number, string][] = [
  [86400, "d"],
  [3600, "h"],
  [60, "min"],
  [1, "s"],
];

/** "3 min", "2 h", "5 s": a duration in its largest whole unit. */
export function duration(seconds: number): string {
  const [size, unit] = UNITS.find(([size]) => seconds >= size) ?? UNITS[UNITS.length - 1];
  return `${Math.max(0, Math.floor(seconds / size))} ${unit}`;
}

export function age(iso: string, now: number = Date.now()): string {
  return `${duration((now - Date.parse(iso)) / 1000)} ago`;
}
