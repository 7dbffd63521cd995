import { useRef } from "preact/hooks";
import uPlot from "uplot";
import { useUPlot } from "../components/uplot";

/** An axis label readable at any size: 3 significant digits, exponents for the tiny (learning rates). */
function tick(value: number): string {
  if (value !== 0 && Math.abs(value) < 1e-2) return value.toExponential(1);
  return String(Number(value.toPrecision(3)));
}

export interface Line {
  label: string;
  values: (number | null)[];
  color: string;
  width?: number;
}

/** The y range of the middle 96% of the first line's values, with a margin: a few spikes do not flatten the rest. */
function clipped(values: (number | null)[], log: boolean): [number, number] | null {
  const sorted = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length < 10) return null;
  const low = sorted[Math.floor(0.02 * (sorted.length - 1))];
  const high = sorted[Math.ceil(0.98 * (sorted.length - 1))];
  if (log) return [low / 1.25, high * 1.25];
  const margin = (high - low) * 0.1 || Math.abs(high) * 0.1 || 1;
  return [low - margin, high + margin];
}

/** A uPlot chart of lines over steps; `data-points` says how many steps it plots (what a test counts). */
export function Chart({ title, steps, lines, log = false, clip = false }: { title: string; steps: number[];
  lines: Line[]; log?: boolean; clip?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const data = [steps, ...lines.map((l) => l.values)] as uPlot.AlignedData;
  const shape = `${log}|${clip}|${lines.map((l) => `${l.label}:${l.color}:${l.width ?? 1.5}`).join(",")}`;
  const range = useRef<[number, number] | null>(null);
  range.current = clip ? clipped(lines[0]?.values ?? [], log) : null;

  useUPlot(box, {
    data, shape, height: 200, width: () => Math.max(280, box.current!.clientWidth),
    options: () => ({
      title,
      scales: {
        x: { time: false },
        y: {
          ...(log ? { distr: 3 } : {}),
          ...(clip ? { range: (_: uPlot, min: number, max: number) => range.current ?? [min, max] } : {}),
        },
      },
      axes: [{ label: "step" }, { size: 64, values: (_, ticks) => ticks.map((t) => (t === null ? "" : tick(t))) }],
      series: [{ label: "step" }, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: l.width ?? 1.5 }))],
      legend: { show: lines.length > 1 },
    }),
  });

  return <div class="chart" ref={box} data-chart={title} data-points={steps.length} />;
}
