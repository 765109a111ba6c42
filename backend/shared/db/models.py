"""SQLAlchemy 2.0 declarative models: the declared schema, matching the head of ``db/migrations``.

Kept in step with the revisions by a test (alembic autogenerate ``compare_metadata`` against a database
at head finds no difference). Objects autogenerate does not compare are listed here for the reader:

- view ``account_order_totals`` (0010, recreated in 0015);
- function ``set_updated_at()`` and the ``trg_<table>_set_updated_at`` triggers (0007);
- check constraints (declared below all the same, with their full names, so ``metadata.create_all``
  builds the same tables).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OrderStatus(enum.Enum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


order_status_type = Enum(
    OrderStatus,
    name="order_status",
    values_callable=lambda members: [member.value for member in members],
    validate_strings=True,
)


def _now() -> object:
    return text("now()")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    email: Mapped[str] = mapped_column(Text, unique=True)
    full_name: Mapped[str] = mapped_column(Text)
    # 0019 (phased rename full_name -> legal_name): at head the revision is expanded, both columns exist and
    # a dual-write trigger keeps them in sync; contract (migtui phase run) drops full_name.
    legal_name: Mapped[str | None] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())

    accounts: Mapped[list[Account]] = relationship(back_populates="owner")
    orders: Mapped[list[Order]] = relationship(back_populates="user")

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r})"


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("plan IN ('free', 'team', 'enterprise')", name="ck_accounts_plan"),
        # 0018 (phased): a unique index built CONCURRENTLY at expand; contract attaches it as a constraint
        Index("uq_accounts_owner_id_name", "owner_id", "name", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    plan: Mapped[str] = mapped_column(Text, server_default=text("'free'"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())

    owner: Mapped[User] = relationship(back_populates="accounts")
    orders: Mapped[list[Order]] = relationship(back_populates="account")

    def __repr__(self) -> str:
        return f"Account(id={self.id!r}, name={self.name!r})"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_cents >= 0", name="ck_orders_total_cents_nonnegative"),
        Index("ix_orders_account_id_created_at", "account_id", "created_at"),
        Index("ix_orders_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), server_default=text("'USD'"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    status: Mapped[OrderStatus] = mapped_column(order_status_type, server_default=text("'pending'::order_status"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    account: Mapped[Account] = relationship(back_populates="orders")
    user: Mapped[User] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        passive_deletes=True,  # ON DELETE CASCADE in the db
    )

    def __repr__(self) -> str:
        return f"Order(id={self.id!r}, status={self.status!r}, total_cents={self.total_cents!r})"


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_order_items_quantity_positive"),
        CheckConstraint("unit_price_cents >= 0", name="ck_order_items_unit_price_nonnegative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="items")

    def __repr__(self) -> str:
        return f"OrderItem(id={self.id!r}, sku={self.sku!r}, quantity={self.quantity!r})"
