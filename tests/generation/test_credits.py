import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import close_old_connections

from generation.credits import (
    InsufficientCredits,
    add_months,
    credits_balance,
    credits_grant_admin,
    credits_refund,
    credits_spend,
    credits_summary,
)
from generation.models import CreditEntry, CreditGrant
from tests.support import need_postgres

pytestmark = pytest.mark.django_db

JOINED = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


@pytest.fixture
def joined_user(make_user):
    user = make_user("joiner")
    get_user_model().objects.filter(pk=user.pk).update(date_joined=JOINED)
    user.refresh_from_db()
    return user


def test_add_months_clamps_to_month_end():
    assert add_months(JOINED, 1) == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    assert add_months(JOINED, 2) == datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    assert add_months(JOINED, 12) == datetime(2027, 1, 31, 12, 0, tzinfo=UTC)


def test_first_month_50_then_15_and_grants_expire_at_the_month_boundary(joined_user):
    u = joined_user
    assert credits_balance(user=u, now=JOINED + timedelta(days=1)) == 50
    credits_spend(user=u, amount=10, now=JOINED + timedelta(days=2))
    last_second = add_months(JOINED, 1) - timedelta(seconds=1)
    assert credits_balance(user=u, now=last_second) == 40
    # At the boundary the first grant has expired and the second month's 15 arrive.
    assert credits_balance(user=u, now=add_months(JOINED, 1)) == 15
    assert credits_balance(user=u, now=add_months(JOINED, 2) + timedelta(hours=1)) == 15
    assert CreditGrant.objects.filter(user=u, kind="monthly").count() == 3


def test_monthly_grant_is_issued_once_however_often_balance_is_read(joined_user):
    now = JOINED + timedelta(days=40)
    for _ in range(5):
        credits_balance(user=joined_user, now=now)
    assert CreditGrant.objects.filter(user=joined_user, period=1).count() == 1


def test_spend_draws_from_the_soonest_expiring_grant(joined_user):
    now = JOINED + timedelta(days=3)
    credits_grant_admin(user=joined_user, amount=5, months_valid=6, now=now)
    credits_spend(user=joined_user, amount=3, now=now)
    monthly = CreditGrant.objects.get(user=joined_user, kind="monthly")
    admin = CreditGrant.objects.get(user=joined_user, kind="admin")
    assert (monthly.remaining, admin.remaining) == (47, 5)
    # Once the monthly grant expires, the admin grant still counts.
    assert credits_balance(user=joined_user, now=add_months(JOINED, 1) + timedelta(days=1)) == 15 + 5


def test_insufficient_credits_is_402_with_balance_and_next_grant(joined_user):
    now = JOINED + timedelta(days=1)
    with pytest.raises(InsufficientCredits) as info:
        credits_spend(user=joined_user, amount=51, now=now)
    assert info.value.status == 402
    assert info.value.details["balance"] == 50
    assert info.value.details["next_grant_at"].startswith("2026-02-28")
    assert credits_balance(user=joined_user, now=now) == 50  # nothing taken


def test_refund_returns_credits_once(joined_user):
    now = JOINED + timedelta(days=1)
    credits_spend(user=joined_user, amount=1, reference="job:1", now=now)
    assert credits_balance(user=joined_user, now=now) == 49
    assert credits_refund(user=joined_user, reference="job:1", now=now) == 1
    assert credits_refund(user=joined_user, reference="job:1", now=now) == 0
    assert credits_balance(user=joined_user, now=now) == 50


def test_refund_after_the_grant_expired_creates_a_fresh_refund_grant(joined_user):
    credits_spend(user=joined_user, amount=2, reference="job:9", now=JOINED + timedelta(days=1))
    later = add_months(JOINED, 1) + timedelta(days=1)
    credits_refund(user=joined_user, reference="job:9", now=later)
    assert credits_balance(user=joined_user, now=later) == 15 + 2
    assert CreditGrant.objects.filter(user=joined_user, kind="refund").get().amount == 2


def test_admin_grant_writes_ledger(joined_user):
    credits_grant_admin(user=joined_user, amount=100, note="contest prize")
    assert CreditEntry.objects.filter(user=joined_user, kind="grant", amount=100, note="contest prize").exists()


def test_summary_lists_expiries(joined_user):
    summary = credits_summary(user=joined_user, now=JOINED + timedelta(days=1))
    assert summary.balance == 50
    assert summary.next_grant_at == add_months(JOINED, 1)
    assert summary.expiries == [(50, add_months(JOINED, 1))]


def test_admin_grant_through_the_admin_page(client, joined_user, make_user):
    admin_user = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    response = client.post("/admin/generation/creditgrant/add/",
                           {"user": joined_user.pk, "amount": 25, "note": "welcome back"})
    assert response.status_code == 302
    assert credits_balance(user=joined_user) >= 25
    assert CreditEntry.objects.filter(user=joined_user, amount=25, note="welcome back").exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_spends_never_go_below_zero(make_user):
    need_postgres()
    user = make_user("racer")
    credits_balance(user=user)
    CreditGrant.objects.filter(user=user).update(remaining=10)
    results: list[str] = []
    barrier = threading.Barrier(20)

    def spend():
        try:
            barrier.wait()
            credits_spend(user=user, amount=1)
            results.append("ok")
        except InsufficientCredits:
            results.append("refused")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=spend) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 10
    assert results.count("refused") == 10
    assert credits_balance(user=user) == 0
