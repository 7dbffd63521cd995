"""Captioners and caption scorers: models an operator registers, as base models are.

A captioner writes a caption of each image; a scorer (CLIP) says how well a caption matches its
image. Both are `models` rows with no tenant, kind `captioner` or `scorer`, and a family that says
how the worker loads them (sanacloud.model.captioning.base): `transformers` for a local or stored
transformers folder, `sana-tiny-judge` for the built-in pair that reads sana-tiny's shape scenes
and needs no files. Nothing is ever fetched from a hub.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sanacloud.model.captioning.base import FAMILIES, TINY, TRANSFORMERS
from sanacloud.platform.datasets.auto_captions import USER
from sanacloud.platform.db.models import Model
from sanacloud.platform.errors import Conflict, InvalidInput

KINDS = ("captioner", "scorer")
BUILTIN = {  # name: (kind, family, uri)
    "sana-tiny-captioner": ("captioner", TINY, "builtin://sana-tiny-captioner"),
    "sana-tiny-scorer": ("scorer", TINY, "builtin://sana-tiny-scorer"),
}


def register(session: Session, *, name: str, kind: str, family: str, uri: str) -> Model:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if family not in FAMILIES or (family == TINY and not uri.startswith("builtin://")):
        raise InvalidInput(f"family must be {TRANSFORMERS!r} (a transformers model folder), not {family!r}")
    if name == USER:
        raise InvalidInput(f"{USER!r} names the tenant's own captions; choose another name")
    if session.scalar(select(Model.id).where(Model.name == name, Model.kind.in_(KINDS), Model.tenant_id.is_(None))):
        raise Conflict(f"a captioner or scorer named {name!r} is already registered")
    model = Model(name=name, kind=kind, family=family, uri=uri, status="ready")
    session.add(model)
    session.flush()
    return model


def register_builtin(session: Session) -> None:
    for name, (kind, family, uri) in BUILTIN.items():
        if session.scalar(select(Model.id).where(Model.name == name, Model.kind == kind)) is None:
            register(session, name=name, kind=kind, family=family, uri=uri)


def listed(session: Session) -> list[Model]:
    return list(session.scalars(select(Model).where(Model.kind.in_(KINDS), Model.tenant_id.is_(None))
                                .order_by(Model.kind, Model.name)))


def resolve(session: Session, names: Sequence[str], *, kind: str) -> list[Model]:
    """The registered models of `kind` by name or id, in the order asked; an unknown one is refused
    with the names there are."""
    found = []
    for name in names:
        model = session.scalar(select(Model).where(Model.kind == kind, Model.tenant_id.is_(None),
                                                   or_(Model.name == name, Model.id == name)))
        if model is None:
            raise InvalidInput(f"unknown {kind} {name!r}; registered: {registered_names(session, kind)}")
        found.append(model)
    return found


def registered_names(session: Session, kind: str) -> str:
    """The registered names of `kind`, for messages."""
    known = session.scalars(select(Model.name).where(Model.kind == kind, Model.tenant_id.is_(None))).all()
    return ", ".join(sorted(known)) or "none"
