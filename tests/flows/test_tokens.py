"""Button tokens: what a pressed button says it answers, the same for every channel."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.content import read_sources
from flows import tokens
from flows.loader import check_sources
from flows.state import State
from flows.tokens import Token, TokenTooLong, option_of
from tests.conftest import MONDAY_EVENING
from tests.flows.conversation import Conversation

ids = st.text(st.characters(blacklist_characters=":", blacklist_categories=("Cs",)), max_size=12)


def test_a_button_sent_by_the_previous_version_is_still_understood():
    # Buttons stay in a chat (and in the outbox) across an upgrade: their data must still read.
    assert Token.parse("r1a:relatie:partner") == Token(run="r1a", step="relatie", option="partner")
    assert Token.parse("x:forget:ja") == Token(run="x", step="forget", option="ja")
    assert option_of("r7:doel:_next") == "_next"


@given(run=ids, step=ids, option=ids)
def test_every_token_reads_back_as_it_was_written(run, step, option):
    token = Token(run=run, step=step, option=option)
    if token.fits():
        assert Token.parse(token.format()) == token


def test_data_that_no_button_carried_reads_as_nothing():
    for data in ("", "menu", "r1:relatie"):
        assert Token.parse(data) is None
        assert option_of(data) is None


def test_a_token_over_the_limit_in_bytes_is_refused():
    fits = Token(run="r1", step="s", option="é" * 28)  # 5 + 56 bytes
    assert len(fits.format().encode()) == 61
    too_long = Token(run="r1", step="s", option="é" * 30)  # 65 bytes, 35 characters
    assert not too_long.fits()
    with pytest.raises(TokenTooLong):
        too_long.format()


def test_every_button_the_engine_makes_fits_every_channel(library):
    talk = Conversation(library, MONDAY_EVENING, State(consent="given"))
    talk.start(flow="oefening-1")
    talk.command("forget")
    for button in talk.buttons():
        assert len(button.token.encode()) <= tokens.LIMIT
        assert Token.parse(button.token) is not None


def test_flows_check_refuses_an_option_id_that_makes_a_button_too_long():
    sources = read_sources()
    long_id = "stoppen" + "-nu" * 20
    sources["flows/menu.yaml"] = sources["flows/menu.yaml"].replace("id: stoppen", f"id: {long_id}")
    problems = check_sources(sources)
    assert any(f"over {tokens.LIMIT} bytes" in p.message for p in problems)
