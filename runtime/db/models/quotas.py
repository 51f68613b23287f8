"""Per-user and per-API-key quotas: a request rate and monthly token and cost budgets."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin


class Quota(IdMixin, TimestampMixin, Base):
    """The limits of one subject; an empty limit means none of that kind."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id"),)

    subject_type: Mapped[str] = mapped_column(String(16))  # user | api_key
    # No foreign key: the id names a user or a key, depending on subject_type.
    subject_id: Mapped[str] = mapped_column(String(32))
    # The user, or the key's owner: deleting the user drops its quotas and its keys'.
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    requests_per_minute: Mapped[int | None]
    # Input plus output tokens in a calendar month (UTC).
    monthly_token_budget: Mapped[int | None] = mapped_column(BigInteger)
    # In the model configs' price unit (USD), per calendar month (UTC).
    monthly_cost_budget: Mapped[float | None] = mapped_column(Numeric(18, 6, asdecimal=False))
