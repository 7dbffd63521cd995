"""Job control: a pause asked of a running job, and the checkpoint a job starts from.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("pause_requested_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("from_checkpoint_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key("fk_jobs_from_checkpoint_id_checkpoints", "checkpoints", ["from_checkpoint_id"],
                                 ["id"], ondelete="SET NULL")
        batch.create_index("ix_jobs_from_checkpoint_id", ["from_checkpoint_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_from_checkpoint_id")
        batch.drop_constraint("fk_jobs_from_checkpoint_id_checkpoints", type_="foreignkey")
        batch.drop_column("from_checkpoint_id")
        batch.drop_column("pause_requested_at")
