"""Why a queued job waits; where a promoted model came from, kept after its job is deleted.

`models.source_checkpoint_id` loses its foreign key (which set it NULL when the job and its
checkpoints were deleted) and gains `source_job_id` and `source_step`, filled in from the
checkpoints that still exist. Downgrading forgets ids of checkpoints that are gone, as the
foreign key requires.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCE_FK = "fk_models_source_checkpoint_id_checkpoints"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("wait_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("wait_kind", sa.String(length=24), nullable=True))
    with op.batch_alter_table("models") as batch:
        batch.drop_constraint(SOURCE_FK, type_="foreignkey")
        batch.add_column(sa.Column("source_job_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("source_step", sa.Integer(), nullable=True))
    op.execute("""
        UPDATE models SET
            source_job_id = (SELECT job_id FROM checkpoints WHERE checkpoints.id = models.source_checkpoint_id),
            source_step = (SELECT step FROM checkpoints WHERE checkpoints.id = models.source_checkpoint_id)
        WHERE source_checkpoint_id IS NOT NULL
    """)


def downgrade() -> None:
    op.execute("""
        UPDATE models SET source_checkpoint_id = NULL
        WHERE source_checkpoint_id NOT IN (SELECT id FROM checkpoints)
    """)
    with op.batch_alter_table("models") as batch:
        batch.drop_column("source_step")
        batch.drop_column("source_job_id")
        batch.create_foreign_key(SOURCE_FK, "checkpoints", ["source_checkpoint_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("wait_kind")
        batch.drop_column("wait_reason")
