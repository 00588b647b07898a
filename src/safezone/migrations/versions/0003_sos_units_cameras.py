"""sos units cameras

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_leases")),
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revoked_tokens_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "sos_rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("box_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sos_rejections")),
    )
    with op.batch_alter_table("sos_rejections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sos_rejections_box_id"), ["box_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sos_rejections_reason"), ["reason"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sos_rejections_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "maintenance_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("asset_kind", sa.String(length=16), nullable=False),
        sa.Column("asset_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_maintenance_alerts_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_alerts")),
    )
    with op.batch_alter_table("maintenance_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_alerts_asset_id"), ["asset_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_alerts_cleared_at"), ["cleared_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_alerts_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "camera_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_camera_snapshots_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_camera_snapshots_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_snapshots")),
    )
    with op.batch_alter_table("camera_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_camera_snapshots_camera_id"), ["camera_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_camera_snapshots_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_camera_snapshots_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "sos_box_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("box_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("device_ts", sa.String(length=40), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["box_id"],
            ["sos_boxes.id"],
            name=op.f("fk_sos_box_events_box_id_sos_boxes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_sos_box_events_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_sos_box_events_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sos_box_events")),
        sa.UniqueConstraint("box_id", "seq", name="uq_sos_box_events_box_seq"),
    )
    with op.batch_alter_table("sos_box_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sos_box_events_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sos_box_events_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "sos_box_status",
        sa.Column("box_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_heartbeat_seq", sa.BigInteger(), nullable=True),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offline_since", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["box_id"],
            ["sos_boxes.id"],
            name=op.f("fk_sos_box_status_box_id_sos_boxes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_sos_box_status_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("box_id", name=op.f("pk_sos_box_status")),
    )
    with op.batch_alter_table("sos_box_status", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sos_box_status_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "sos_responses",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=8), nullable=False),
        sa.Column("box_id", sa.String(length=64), nullable=True),
        sa.Column("tracking_code", sa.String(length=20), nullable=True),
        sa.Column("cameras", sa.Text(), nullable=False),
        sa.Column("units", sa.Text(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_sos_responses_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_sos_responses_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_sos_responses")),
    )
    with op.batch_alter_table("sos_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sos_responses_station_id"), ["station_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sos_responses_tracking_code"), ["tracking_code"], unique=False
        )

    op.create_table(
        "sos_trail_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_sos_trail_points_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sos_trail_points")),
    )
    with op.batch_alter_table("sos_trail_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sos_trail_points_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "units",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("callsign", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("officer_user_id", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("location_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_user_id"], ["users.id"], name=op.f("fk_units_officer_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_units_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_units_station_id"), ["station_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_units_status"), ["status"], unique=False)

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("escalated_at")

    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_units_status"))
        batch_op.drop_index(batch_op.f("ix_units_station_id"))

    op.drop_table("units")
    with op.batch_alter_table("sos_trail_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sos_trail_points_incident_id"))

    op.drop_table("sos_trail_points")
    with op.batch_alter_table("sos_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sos_responses_tracking_code"))
        batch_op.drop_index(batch_op.f("ix_sos_responses_station_id"))

    op.drop_table("sos_responses")
    with op.batch_alter_table("sos_box_status", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sos_box_status_station_id"))

    op.drop_table("sos_box_status")
    with op.batch_alter_table("sos_box_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sos_box_events_station_id"))
        batch_op.drop_index(batch_op.f("ix_sos_box_events_incident_id"))

    op.drop_table("sos_box_events")
    with op.batch_alter_table("camera_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_camera_snapshots_station_id"))
        batch_op.drop_index(batch_op.f("ix_camera_snapshots_incident_id"))
        batch_op.drop_index(batch_op.f("ix_camera_snapshots_camera_id"))

    op.drop_table("camera_snapshots")
    with op.batch_alter_table("maintenance_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_alerts_station_id"))
        batch_op.drop_index(batch_op.f("ix_maintenance_alerts_cleared_at"))
        batch_op.drop_index(batch_op.f("ix_maintenance_alerts_asset_id"))

    op.drop_table("maintenance_alerts")
    with op.batch_alter_table("sos_rejections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sos_rejections_station_id"))
        batch_op.drop_index(batch_op.f("ix_sos_rejections_reason"))
        batch_op.drop_index(batch_op.f("ix_sos_rejections_box_id"))

    op.drop_table("sos_rejections")
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_tokens_expires_at"))

    op.drop_table("revoked_tokens")
    op.drop_table("job_leases")
