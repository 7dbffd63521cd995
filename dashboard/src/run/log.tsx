import { useLayoutEffect, useRef } from "preact/hooks";
import { JobEvent } from "../api";

// Shown otherwise (the line's own time) or of no use to a reader (object keys).
const HIDDEN = ["time", "sample_keys"];

function summary(event: JobEvent): string {
  const { message, ...rest } = event.payload;
  const fields = Object.entries(rest).filter(([name]) => !HIDDEN.includes(name))
    .map(([name, value]) => `${name}=${typeof value === "object" ? JSON.stringify(value) : String(value)}`);
  return [typeof message === "string" ? message : "", ...fields].filter(Boolean).join("  ");
}

/** The job's events, newest last; follows new ones only while scrolled to the bottom. */
export function EventLog({ events }: { events: JobEvent[] }) {
  const box = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    if (atBottom.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [events.length]);
  const onScroll = () => {
    const el = box.current!;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
  };
  return (
    <div class="event-log" ref={box} onScroll={onScroll} role="log" aria-label="event log" tabIndex={0}>
      {events.map((event) => (
        <div class={`event event-${event.type}`} key={event.id}>
          <time>{new Date(event.created_at).toLocaleTimeString()}</time> <b>{event.type}</b> {summary(event)}
        </div>
      ))}
    </div>
  );
}
