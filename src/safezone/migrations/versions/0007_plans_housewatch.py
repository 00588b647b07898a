"""patrol plans with target visits; house-watch requests and their notices

Revision ID: 0007_plans_housewatch
Revises: 0004_patrol_dispatch
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_plans_housewatch"
down_revision: str | None = "0005_faces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patrol_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("start_time", sa.String(length=5), nullable=False),
        sa.Column("end_time", sa.String(length=5), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_patrol_plans_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_plans")),
    )
    op.create_index(op.f("ix_patrol_plans_station_id"), "patrol_plans", ["station_id"])
    op.create_table(
        "patrol_plan_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.String(length=64), nullable=False),
        sa.Column("target_visits", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("housewatch_request_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["patrol_plans.id"],
            name=op.f("fk_patrol_plan_checkpoints_plan_id_patrol_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_plan_checkpoints")),
    )
    for column in ("plan_id", "checkpoint_id", "housewatch_request_id"):
        op.create_index(
            op.f(f"ix_patrol_plan_checkpoints_{column}"), "patrol_plan_checkpoints", [column]
        )
    op.create_table(
        "housewatch_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("contact_kind", sa.String(length=16), nullable=False),
        sa.Column("contact_value", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("checkpoint_id", sa.String(length=64), nullable=True),
        sa.Column("target_visits", sa.Integer(), nullable=True),
        sa.Column("last_checkin_id", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_user_id"], ["users.id"], name=op.f("fk_housewatch_requests_owner_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_housewatch_requests_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housewatch_requests")),
    )
    for column in ("station_id", "owner_user_id", "ends_on", "status", "checkpoint_id"):
        op.create_index(op.f(f"ix_housewatch_requests_{column}"), "housewatch_requests", [column])
    op.create_table(
        "housewatch_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title_th", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("text_th", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["housewatch_requests.id"],
            name=op.f("fk_housewatch_notices_request_id_housewatch_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housewatch_notices")),
    )
    for column in ("request_id", "checkin_id"):
        op.create_index(op.f(f"ix_housewatch_notices_{column}"), "housewatch_notices", [column])


def downgrade() -> None:
    for column in ("request_id", "checkin_id"):
        op.drop_index(op.f(f"ix_housewatch_notices_{column}"), table_name="housewatch_notices")
    op.drop_table("housewatch_notices")
    for column in ("station_id", "owner_user_id", "ends_on", "status", "checkpoint_id"):
        op.drop_index(op.f(f"ix_housewatch_requests_{column}"), table_name="housewatch_requests")
    op.drop_table("housewatch_requests")
    for column in ("plan_id", "checkpoint_id", "housewatch_request_id"):
        op.drop_index(
            op.f(f"ix_patrol_plan_checkpoints_{column}"), table_name="patrol_plan_checkpoints"
        )
    op.drop_table("patrol_plan_checkpoints")
    op.drop_index(op.f("ix_patrol_plans_station_id"), table_name="patrol_plans")
    op.drop_table("patrol_plans")
