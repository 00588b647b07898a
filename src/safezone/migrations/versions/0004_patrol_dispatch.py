"""dispatch: unit assignments with acknowledgement deadlines and step times

Revision ID: 0004_patrol_dispatch
Revises: 0004_patrol
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_patrol_dispatch"
down_revision: str | None = "0004_patrol"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dispatch_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("officer_user_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("assigned_by", sa.String(length=128), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.Column("en_route_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_scene_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_dispatch_assignments_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["officer_user_id"],
            ["users.id"],
            name=op.f("fk_dispatch_assignments_officer_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_dispatch_assignments_station_id_stations"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_dispatch_assignments_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_assignments")),
    )
    with op.batch_alter_table("dispatch_assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dispatch_assignments_ack_due", ["status", "ack_due_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dispatch_assignments_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dispatch_assignments_officer_user_id"), ["officer_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dispatch_assignments_station_id"), ["station_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dispatch_assignments_unit_id"), ["unit_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dispatch_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispatch_assignments_unit_id"))
        batch_op.drop_index(batch_op.f("ix_dispatch_assignments_station_id"))
        batch_op.drop_index(batch_op.f("ix_dispatch_assignments_officer_user_id"))
        batch_op.drop_index(batch_op.f("ix_dispatch_assignments_incident_id"))
        batch_op.drop_index("ix_dispatch_assignments_ack_due")

    op.drop_table("dispatch_assignments")
