// What the trainer's step events carry ({step, loss, lr, grad_norm, samples_per_s, memory_mb}), as curves.
import { JobEvent } from "../api";

export interface Series {
  steps: number[];
  values: number[];
}

/** Per metric, its values by step, in the order the events came (a resumed run repeats steps: the newest wins). */
export function curves(events: JobEvent[]): Map<string, Series> {
  const byMetric = new Map<string, Map<number, number>>();
  for (const event of events) {
    if (event.type !== "step" || typeof event.payload.step !== "number") continue;
    for (const [name, value] of Object.entries(event.payload)) {
      if (name === "step" || typeof value !== "number" || !Number.isFinite(value)) continue;
      if (!byMetric.has(name)) byMetric.set(name, new Map());
      byMetric.get(name)!.set(event.payload.step, value);
    }
  }
  const result = new Map<string, Series>();
  for (const [name, points] of byMetric) {
    const steps = [...points.keys()].sort((a, b) => a - b);
    result.set(name, { steps, values: steps.map((s) => points.get(s)!) });
  }
  return result;
}

/** W&B's debiased, time-weighted EMA: each point's decay follows its distance in steps from the previous one,
 * measured in average gaps (so uneven logging does not skew it), and dividing by the sum of the weights removes
 * the pull towards zero at the start. `weight` 0 is the raw curve. */
export function smoothed({ steps, values }: Series, weight: number): number[] {
  if (weight <= 0 || steps.length < 2) return values.slice();
  const decay = Math.min(weight, 0.999);
  const averageGap = (steps[steps.length - 1] - steps[0]) / (steps.length - 1) || 1;
  let last = 0;
  let debias = 0;
  return values.map((value, i) => {
    const factor = i === 0 ? 1 : decay ** ((steps[i] - steps[i - 1]) / averageGap);
    last = last * factor + value;
    debias = debias * factor + 1;
    return last / debias;
  });
}

/** Seconds to go: steps left over the rate of the last minute of step events (at least two distinct times). */
export function eta(events: JobEvent[], totalSteps: number | null): number | null {
  const points = events.filter((e) => e.type === "step" && typeof e.payload.step === "number")
    .map((e) => ({ step: e.payload.step as number, at: Date.parse(e.created_at) / 1000 }));
  if (totalSteps === null || points.length < 2) return null;
  const last = points[points.length - 1];
  const window = points.filter((p) => last.at - p.at <= 60);
  const first = window[0].at < last.at ? window[0] : points.find((p) => p.at < last.at);
  if (!first || last.step <= first.step) return null;
  const rate = (last.step - first.step) / (last.at - first.at);
  return Math.max(0, (totalSteps - last.step) / rate);
}
