"""LoRA adapters on one loaded base: load, switch, unload — the base is never reloaded.

diffusers' PEFT integration keeps several named adapters on the transformer at once;
`set_adapters` picks the active one and `disable_lora` serves the bare base.
"""

from __future__ import annotations

from pathlib import Path

from diffusers import SanaPipeline


class Adapters:
    def __init__(self, pipe: SanaPipeline) -> None:
        self.pipe = pipe
        self.loaded: set[str] = set()
        self.active: str | None = None

    def load(self, name: str, path: Path) -> None:
        """Load a diffusers-format LoRA file (or folder) under `name`; a loaded name is kept."""
        if name not in self.loaded:
            self.pipe.load_lora_weights(path, adapter_name=name)
            self.loaded.add(name)
        self.activate(self.active)

    def activate(self, name: str | None) -> None:
        """Serve with adapter `name`, or the bare base model when None."""
        if name is None:
            if self.loaded:
                self.pipe.disable_lora()
        else:
            if name not in self.loaded:
                raise KeyError(f"adapter {name!r} is not loaded")
            self.pipe.enable_lora()
            self.pipe.set_adapters([name], adapter_weights=[1.0])
        self.active = name

    def unload(self, name: str) -> None:
        if name not in self.loaded:
            return
        self.pipe.delete_adapters([name])
        self.loaded.discard(name)
        if self.active == name:
            self.active = None
        self.activate(self.active)
