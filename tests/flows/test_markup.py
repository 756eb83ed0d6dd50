"""The coach's markup becomes a message's structure; what a person wrote never becomes markup."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flows import defaults
from flows.messages import Message, Quote, Span, Theirs, spans_of
from flows.texts import Texts, TextSource

AMSTERDAM = ZoneInfo(defaults.TIMEZONE)


def texts(source: str) -> Texts:
    return Texts({"nl": {"t:k": TextSource(source=source, path="locales/nl/t.yaml", line=3)}})


def render(source: str, **context) -> Message:
    return Message(key="t:k", paragraphs=texts(source).render("nl", "t:k", AMSTERDAM, **context))


def test_markup_in_what_a_person_wrote_comes_back_as_their_literal_words():
    written = Theirs("<b>Mijn moeder</b> & ik <blockquote>")
    message = render("Je schreef:\n<blockquote>{{ plan }}</blockquote>", plan=written)
    assert message.paragraphs == (
        (
            Span(text="Je schreef:\n"),
            Quote(spans=(Span(text="<b>Mijn moeder</b> & ik <blockquote>", theirs=True),)),
        ),
    )
    assert message.quotes


def test_the_coachs_own_values_are_literal_but_not_the_persons():
    message = render("Om <b>{{ time }}</b>.", time="<i>20:00</i>")
    assert message.paragraphs == (
        (Span(text="Om "), Span(text="<i>20:00</i>", strong=True), Span(text=".")),
    )
    assert not message.quotes


def test_a_blank_line_starts_a_paragraph_but_not_inside_a_quote():
    message = render("Een.\n\n<i>Twee</i>\n<blockquote>a\n\nb</blockquote>")
    assert message.paragraphs == (
        (Span(text="Een."),),
        (Span(text="Twee", emphasis=True), Span(text="\n"), Quote(spans=(Span(text="a\n\nb"),))),
    )
    assert message.plain == "Een.\n\nTwee\n\na\n\nb"


def test_a_person_cannot_forge_the_marks_that_keep_their_words_apart():
    forged = Theirs("\ue002<b>vet</b>\ue001")
    message = render("{{ x }}", x=forged)
    assert spans_of(message.paragraphs) == [Span(text="<b>vet</b>", theirs=True)]


def test_lowercasing_an_answer_keeps_it_the_persons():
    message = render("({{ relatie | lower }})", relatie=Theirs("Mijn Vader"))
    assert Span(text="mijn vader", theirs=True) in spans_of(message.paragraphs)


def test_markup_no_channel_can_show_is_flagged_and_shown_as_text():
    parsed = texts("<u>Let op</u> <b class='x'>hier</b> en <i>open").parse("nl", "t:k", AMSTERDAM)
    assert [str(f.message) for f in parsed.flaws] == [
        "uses <u>, which is not the coach's markup",  # once, for <u> and </u>
        "gives <b> attributes, which no channel shows",
        "closes <b>, which is not open",
        "leaves <i> open",
    ]
    assert [f.code for f in parsed.flaws] == ["KC040", "KC041", "KC042", "KC042"]
    assert "<u>Let op</u>" in Message(key="t:k", paragraphs=parsed.paragraphs).plain


def test_a_message_travels_as_json_and_comes_back_the_same():
    message = render("<b>Je plan</b>\n<blockquote>{{ p }}</blockquote>\n\nVerder.", p=Theirs("x"))
    assert Message.from_json(message.to_json()) == message
