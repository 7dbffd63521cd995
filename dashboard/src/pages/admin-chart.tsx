// GPU-hours over time per tenant and pool: a uPlot chart of the admin usage series.
import { useRef } from "preact/hooks";
import uPlot from "uplot";
import { useUPlot } from "../components/uplot";
import { UsageSeries } from "./admin-api";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
const HEIGHT = 220;

export function GpuHoursChart({ series }: { series: UsageSeries }) {
  const box = useRef<HTMLDivElement>(null);
  const labels = series.lines.map((line) => `${line.tenant} on ${line.pool}`);
  const data = [
    series.starts.map((start) => Date.parse(start) / 1000),
    ...series.lines.map((line) => line.gpu_seconds.map((seconds) => seconds / 3600)),
  ] as uPlot.AlignedData;

  useUPlot(box, {
    data, shape: labels.join("|"), height: HEIGHT, width: () => Math.max(320, box.current!.clientWidth - 10),
    options: () => ({
      axes: [{}, { label: "GPU-hours", size: 70 }],
      series: [{ label: "from" }, ...labels.map((label, index) => ({
        label, stroke: COLORS[index % COLORS.length], width: 1.5, paths: uPlot.paths.stepped!({ align: 1 }),
        value: (_plot: uPlot, value: number | null) => (value === null ? "–" : value.toFixed(4)),
      }))],
    }),
  });

  const total = series.lines.reduce((sum, line) => sum + line.gpu_seconds.reduce((a, b) => a + b, 0), 0);
  return (
    <div class="chart" ref={box} data-chart="gpu-hours" data-lines={series.lines.length} data-bucket-s={series.bucket_s}
      aria-label={`GPU-hours over time: ${(total / 3600).toFixed(4)} in all`} />
  );
}
