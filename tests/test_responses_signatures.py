"""crossway.signatures: the tokens crossway hands clients, and how it reads them back."""

from __future__ import annotations

from crossway import signatures as S


def test_a_carried_token_round_trips_with_its_kind_and_issuer() -> None:
    value = S.carry("encrypted", "gAAAAB" + "x" * 500, "grok-4.5")
    assert value.startswith(S.CARRIED) and S.is_ours(value)
    assert "gAAAAB" not in value  # never the bare token, which an upstream would accept
    carried = S.unwrap(value)
    assert carried == S.Carried("encrypted", "grok-4.5", "gAAAAB" + "x" * 500)
    assert S.kind_of(value) == "encrypted"
    assert carried.valid_for("encrypted", "grok-4.5")
    assert not carried.valid_for("signature", "grok-4.5")  # the right model, the wrong field
    assert not carried.valid_for("encrypted", "gpt-5.6-luna")


def test_minted_and_foreign_values_carry_nothing() -> None:
    minted = S.mint("some thinking")
    assert S.is_ours(minted) and S.unwrap(minted) is None and S.kind_of(minted) is None
    for other in (None, "", "fake-sig-1", "EqQBCkYIBxgCKkB", "gAAAAB-xyz"):
        assert not S.is_ours(other) and S.unwrap(other) is None


def test_a_damaged_value_is_dropped_not_an_error() -> None:
    good = S.carry("signature", "sig", "minimax-m2.7")
    for bad in (good[:-6], S.CARRIED + "!!!", S.CARRIED + "bm90IGpzb24",
                S.CARRIED + "eyJrIjoieCIsImkiOiJtIiwidCI6InMifQ"):  # unknown kind "x"
        assert S.unwrap(bad) is None
        assert S.is_ours(bad)  # still ours: never sent upstream as it is


def test_model_names_upstreams_report_match_the_ids_crossway_sent() -> None:
    assert S.same_model("MiniMax-M2.7", "minimax-m2.7")
    assert S.same_model("grok-4.5-20261101", "grok-4.5")
    assert not S.same_model("minimax-m2.5", "minimax-m2.7")
    assert not S.same_model("", "minimax-m2.7")
    assert not S.same_model("gpt-5.6-luna", "gpt-5.6")
