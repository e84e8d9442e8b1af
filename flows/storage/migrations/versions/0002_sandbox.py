"""Nothing, any more: this revision used to create the sandbox stack's tables.

They now belong to the sandbox's own history (flows/sandbox/migrations, version table
`alembic_version_sandbox`), whose first revision adopts the tables this one created in databases
of earlier versions, rows included. The revision stays so that those databases, recorded at
0002 or later, keep a continuous chain.

Revision ID: 0002
Revises: 0001
"""

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
