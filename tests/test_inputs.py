"""Bad input: one error listing every problem with file, line or field; nothing written."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comps.errors import InputError
from comps.sources.snapshot import load_snapshots
from comps.target import load_target
from comps.universe import load_peers, parse_peers

BAD = Path(__file__).parent / "fixtures" / "bad_inputs"
EXPECTED = tomllib.loads((BAD / "expected.toml").read_text())


CASES = [(load_peers, n, f) for n, f in sorted(EXPECTED["peers"].items())]
CASES += [(load_target, n, f) for n, f in sorted(EXPECTED["target"].items())]
CASES += [(load_snapshots, n, f) for n, f in sorted(EXPECTED["snapshots"].items())]


@pytest.mark.parametrize(("loader", "name", "fragment"), CASES, ids=[c[1] for c in CASES])
def test_bad_input_corpus(loader, name, fragment):
    with pytest.raises(InputError) as exc:
        loader(BAD / name)
    assert fragment in str(exc.value)
    assert name in str(exc.value)


def test_every_problem_is_reported_at_once_with_line_numbers():
    text = "ticker,name,segment,include,notes\nNVDA,NVIDIA,,true,\nNVDA,Dup,x,perhaps,\nA/B,Bad,x,true,\n"
    with pytest.raises(InputError) as exc:
        parse_peers(text, "peers.csv")
    msg = str(exc.value)
    assert msg.startswith("4 input problems")
    for part in ("peers.csv:2 [segment]: segment is empty", "peers.csv:3 [ticker]: duplicate ticker NVDA",
                 "peers.csv:3 [include]", "peers.csv:4 [ticker]"):
        assert part in msg


def test_comments_blank_lines_bom_and_whitespace_are_tolerated():
    text = "\ufeff# a comment\n\nticker , name,segment,include,notes\n  nvda , NVIDIA , accelerators , YES ,  hi \n"
    (peer,) = parse_peers(text)
    assert (peer.ticker, peer.name, peer.segment, peer.include, peer.notes) == ("NVDA", "NVIDIA", "accelerators",
                                                                                True, "hi")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_raises_nothing_but_input_error(text):
    try:
        parse_peers(text)
    except InputError:
        pass
