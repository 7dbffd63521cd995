import { RefObject } from "preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

/** A uPlot chart inside `box`: built from `options` when the component mounts and whenever `shape` (what
 * the options depend on) changes, given `data` at every render, and as wide as `width()` when the window
 * resizes. */
export function useUPlot(box: RefObject<HTMLDivElement>, { options, data, shape, width, height }: {
  options: () => Omit<uPlot.Options, "width" | "height">; data: uPlot.AlignedData; shape: string;
  width: () => number; height: number;
}): void {
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    plot.current = new uPlot({ ...options(), width: width(), height }, data, box.current!);
    const resize = () => plot.current?.setSize({ width: width(), height });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(data);
  });
}
