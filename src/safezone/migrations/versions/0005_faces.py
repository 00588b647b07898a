"""faces: watchlist entries, enrolment photos, embeddings, the match review queue

Revision ID: 0005_faces
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_faces"
down_revision: str | None = "0004_patrol_dispatch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "watchlist_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("person_name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("legal_basis", sa.String(length=200), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=False),
        sa.Column("enrolled_by", sa.String(length=100), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_watchlist_entries_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_entries")),
    )
    with op.batch_alter_table("watchlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watchlist_entries_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_watchlist_entries_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_watchlist_entries_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "face_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=True),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("crop_path", sa.String(length=300), nullable=True),
        sa.Column("frame_path", sa.String(length=300), nullable=True),
        sa.Column("crop_sha256", sa.String(length=64), nullable=False),
        sa.Column("frame_sha256", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["watchlist_entries.id"],
            name=op.f("fk_face_matches_entry_id_watchlist_entries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_face_matches_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_matches")),
    )
    with op.batch_alter_table("face_matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_face_matches_camera_id"), ["camera_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_face_matches_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_face_matches_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_face_matches_station_id"), ["station_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_face_matches_status"), ["status"], unique=False)

    op.create_table(
        "watchlist_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["watchlist_entries.id"],
            name=op.f("fk_watchlist_photos_entry_id_watchlist_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_photos")),
    )
    with op.batch_alter_table("watchlist_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watchlist_photos_entry_id"), ["entry_id"], unique=False
        )

    op.create_table(
        "watchlist_embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["watchlist_entries.id"],
            name=op.f("fk_watchlist_embeddings_entry_id_watchlist_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["watchlist_photos.id"],
            name=op.f("fk_watchlist_embeddings_photo_id_watchlist_photos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_embeddings")),
    )
    with op.batch_alter_table("watchlist_embeddings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watchlist_embeddings_entry_id"), ["entry_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_watchlist_embeddings_photo_id"), ["photo_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("watchlist_embeddings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watchlist_embeddings_photo_id"))
        batch_op.drop_index(batch_op.f("ix_watchlist_embeddings_entry_id"))

    op.drop_table("watchlist_embeddings")
    with op.batch_alter_table("watchlist_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watchlist_photos_entry_id"))

    op.drop_table("watchlist_photos")
    with op.batch_alter_table("face_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_matches_status"))
        batch_op.drop_index(batch_op.f("ix_face_matches_station_id"))
        batch_op.drop_index(batch_op.f("ix_face_matches_person_id"))
        batch_op.drop_index(batch_op.f("ix_face_matches_entry_id"))
        batch_op.drop_index(batch_op.f("ix_face_matches_camera_id"))

    op.drop_table("face_matches")
    with op.batch_alter_table("watchlist_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watchlist_entries_station_id"))
        batch_op.drop_index(batch_op.f("ix_watchlist_entries_person_id"))
        batch_op.drop_index(batch_op.f("ix_watchlist_entries_expires_at"))

    op.drop_table("watchlist_entries")
