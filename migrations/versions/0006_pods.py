"""What the Kubernetes executor reads: the worker (pod) sampling each generation, so that scaling
down never removes a busy pod; and the inference replicas each warm endpoint holds.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("worker", sa.String(255), nullable=True))
    with op.batch_alter_table("endpoints") as batch:
        batch.add_column(sa.Column("replicas", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE endpoints SET replicas = 1 WHERE status IN ('loading', 'ready')")


def downgrade() -> None:
    with op.batch_alter_table("endpoints") as batch:
        batch.drop_column("replicas")
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("worker")
