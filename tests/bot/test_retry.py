"""The one retry loop (`bot/retry.py`): what the decision says is what happens."""

from __future__ import annotations

from bot.retry import Backoff, backoff, retrying


class Flaky:
    """Fails `failures` times with the given error, then answers."""

    def __init__(self, failures: int, error: Exception | None = None):
        self.left, self.error, self.calls = failures, error or ConnectionError("weg"), 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise self.error
        return "antwoord"


async def no_sleep(seconds: float) -> None:
    pauses.append(seconds)


pauses: list[float] = []


async def test_a_passing_failure_is_tried_again_after_the_pause_the_decision_gives():
    pauses.clear()
    call = Flaky(2)
    assert await retrying(call, lambda error, n: n * 10.0, sleep=no_sleep) == "antwoord"
    assert call.calls == 3 and pauses == [10.0, 20.0]


async def test_a_decision_of_none_gives_up_and_a_raise_ends_it():
    call = Flaky(5, ValueError("kapot"))
    assert await retrying(call, lambda error, n: None, sleep=no_sleep) is None
    assert call.calls == 1

    def refuse(error: Exception, n: int) -> float:
        raise RuntimeError("token refused") from error

    try:
        await retrying(Flaky(1), refuse, sleep=no_sleep)
    except RuntimeError as error:
        assert str(error) == "token refused"
    else:
        raise AssertionError("the decision's error did not end the loop")


async def test_attempts_and_a_stop_bound_the_loop():
    call = Flaky(10)
    assert await retrying(call, lambda e, n: 0.0, sleep=no_sleep, attempts=3) is None
    assert call.calls == 3
    stopped = Flaky(10)
    assert await retrying(stopped, lambda e, n: 0.0, sleep=no_sleep, stopped=lambda: True) is None
    assert stopped.calls == 0


def test_the_pause_grows_to_about_a_minute_with_some_jitter():
    assert 0.75 <= backoff(1) <= 1.5
    assert 3.0 <= backoff(3) <= 6.0
    assert 40 <= backoff(30) <= 80


def test_backoff_doubles_up_to_its_cap_with_jitter_below_each_step():
    backoff = Backoff(initial=0.5, maximum=30.0)
    highest = [backoff.delay(n, lambda: 1.0) for n in range(10)]
    lowest = [backoff.delay(n, lambda: 0.0) for n in range(10)]
    assert highest[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(highest) == 30.0
    assert lowest[:2] == [0.25, 0.5]
    assert backoff.delay(10_000, lambda: 1.0) == 30.0
