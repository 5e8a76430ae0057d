"""The sign-in limit: failures per user name and per address within a window (a clock we step)."""

from __future__ import annotations

from relayml.identity.signin_limit import SignInLimiter


class Clock:
    """A clock the test moves forward by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_sixth_attempt_waits_until_the_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    limiter = SignInLimiter(5, 60.0, clock)
    for _ in range(4):
        limiter.failed("ann", "10.0.0.1")
        clock.now += 1
    assert limiter.retry_after("ann", "10.0.0.1") is None
    limiter.failed("ann", "10.0.0.1")  # the fifth, at t=1004
    assert limiter.retry_after("ann", "10.0.0.1") == 56  # the first (t=1000) leaves at 1060
    clock.now = 1060.5
    assert limiter.retry_after("ann", "10.0.0.1") is None


def test_a_user_is_limited_from_every_address_and_an_address_for_every_user() -> None:
    clock = Clock()
    limiter = SignInLimiter(3, 60.0, clock)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        limiter.failed("ann", address)
    assert limiter.retry_after("ann", "10.0.0.9") is not None  # the user name is limited
    assert limiter.retry_after("bob", "10.0.0.9") is None
    for user in ("u1", "u2", "u3"):
        limiter.failed(user, "10.0.0.7")
    assert limiter.retry_after("someone-else", "10.0.0.7") is not None  # the address is


def test_a_success_forgets_the_users_failures_but_not_the_addresss() -> None:
    clock = Clock()
    limiter = SignInLimiter(2, 60.0, clock)
    limiter.failed("ann", "10.0.0.1")
    limiter.succeeded("ann")
    limiter.failed("ann", "10.0.0.2")
    assert limiter.retry_after("ann", "10.0.0.3") is None
    limiter.failed("bob", "10.0.0.1")
    assert limiter.retry_after("carol", "10.0.0.1") is not None
