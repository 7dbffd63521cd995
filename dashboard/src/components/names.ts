import { useEffect, useState } from "preact/hooks";
import { api } from "../api";

let baseModels: Promise<Map<string, string>> | null = null;

/** Base model ids to their names (asked once per page load; the catalog rarely changes). */
export function useBaseModelNames(): Map<string, string> {
  const [names, setNames] = useState(new Map<string, string>());
  useEffect(() => {
    baseModels ??= api.baseModels().then((list) => new Map(list.map((m) => [m.id, m.name])));
    baseModels.then(setNames, () => (baseModels = null));
  }, []);
  return names;
}
