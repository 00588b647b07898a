"""patrol: checkpoint keys, officer devices, shifts, check-ins

Revision ID: 0004_patrol
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_patrol"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkpoint_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoints.id"],
            name=op.f("fk_checkpoint_keys_checkpoint_id_checkpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoint_keys")),
        sa.UniqueConstraint(
            "checkpoint_id", "version", name=op.f("uq_checkpoint_keys_checkpoint_id")
        ),
    )
    with op.batch_alter_table("checkpoint_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checkpoint_keys_checkpoint_id"), ["checkpoint_id"], unique=False
        )

    op.create_table(
        "officer_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("officer_user_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("registered_by", sa.String(length=100), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["officer_user_id"], ["users.id"], name=op.f("fk_officer_devices_officer_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_officer_devices_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officer_devices")),
    )
    with op.batch_alter_table("officer_devices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_officer_devices_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_officer_devices_officer_user_id"), ["officer_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_officer_devices_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("officer_user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["officer_user_id"], ["users.id"], name=op.f("fk_shifts_officer_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_shifts_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shifts")),
    )
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shifts_ended_at"), ["ended_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_shifts_officer_user_id"), ["officer_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_shifts_started_at"), ["started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_shifts_station_id"), ["station_id"], unique=False)

    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("officer_user_id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=True),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("shift_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["officer_user_id"], ["users.id"], name=op.f("fk_checkins_officer_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"], ["shifts.id"], name=op.f("fk_checkins_shift_id_shifts")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_checkins_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checkins_checkpoint_id"), ["checkpoint_id"], unique=False
        )
        batch_op.create_index(
            "ix_checkins_officer_scanned", ["officer_user_id", "scanned_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_checkins_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_checkins_station_id"), ["station_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_checkins_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkins_status"))
        batch_op.drop_index(batch_op.f("ix_checkins_station_id"))
        batch_op.drop_index(batch_op.f("ix_checkins_received_at"))
        batch_op.drop_index("ix_checkins_officer_scanned")
        batch_op.drop_index(batch_op.f("ix_checkins_checkpoint_id"))

    op.drop_table("checkins")
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shifts_station_id"))
        batch_op.drop_index(batch_op.f("ix_shifts_started_at"))
        batch_op.drop_index(batch_op.f("ix_shifts_officer_user_id"))
        batch_op.drop_index(batch_op.f("ix_shifts_ended_at"))

    op.drop_table("shifts")
    with op.batch_alter_table("officer_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officer_devices_station_id"))
        batch_op.drop_index(batch_op.f("ix_officer_devices_officer_user_id"))
        batch_op.drop_index(batch_op.f("ix_officer_devices_device_id"))

    op.drop_table("officer_devices")
    with op.batch_alter_table("checkpoint_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkpoint_keys_checkpoint_id"))

    op.drop_table("checkpoint_keys")
