"""YAML workflow configs mean what the same JSON would (docs/api.md, limits on input)."""

import pytest

from flows.stages import ConfigError
from flows.workflows import validate_config
from flows.workflows.yaml_body import load_yaml


def test_a_workflow_config_loads_as_its_json_equivalent() -> None:
    body = b"""
name: pay-in
stages:
  - send:
      source: {payment: {id: "${paymentID}"}}
      destination:
        account: {id: "users:001", ledger: main}
  - delay: {duration: 1h30m}
  - noop: {}
"""
    assert load_yaml(body) == {
        "name": "pay-in",
        "stages": [
            {
                "send": {
                    "source": {"payment": {"id": "${paymentID}"}},
                    "destination": {"account": {"id": "users:001", "ledger": "main"}},
                }
            },
            {"delay": {"duration": "1h30m"}},
            {"noop": {}},
        ],
    }


@pytest.mark.parametrize("word", ["on", "off", "yes", "no", "y", "n", "On", "YES", "No"])
def test_yaml_1_1_booleans_stay_strings(word: str) -> None:
    assert load_yaml(f"event: {word}".encode()) == {"event": word}


@pytest.mark.parametrize(
    ("word", "value"),
    [("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False)],
)
def test_only_true_and_false_are_booleans(word: str, value: bool) -> None:
    assert load_yaml(f"a: {word}".encode()) == {"a": value}


@pytest.mark.parametrize("text", ["2024-01-02", "2024-01-02T03:04:05Z", "2024-01-02 03:04:05"])
def test_timestamps_stay_strings(text: str) -> None:
    assert load_yaml(f"until: {text}".encode()) == {"until": text}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100", 100),
        ("-5", -5),
        ("0123", 123),  # decimal, not YAML 1.1 octal
        ("0o17", 15),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("1_000", "1_000"),
        ("1:30", "1:30"),  # not YAML 1.1 sexagesimal
        (".inf", ".inf"),
        (".nan", ".nan"),
        ("~", None),
        ("null", None),
        ("", None),
        ('"100"', "100"),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    assert load_yaml(f"a: {text}".encode()) == {"a": value}


def test_big_integers_load_exactly() -> None:
    assert load_yaml(f"a: {2**60 + 1}".encode()) == {"a": 2**60 + 1}
    assert load_yaml(f"a: {2**256 - 1}".encode()) == {"a": 2**256 - 1}


@pytest.mark.parametrize("amount", ["1e3", "1.5", "1000.0"])
def test_an_amount_written_as_a_yaml_float_is_refused(amount: str) -> None:
    body = f"""
stages:
  - send:
      source: {{account: {{id: a}}}}
      destination: {{account: {{id: b}}}}
      amount: {{amount: {amount}, asset: USD/2}}
"""
    with pytest.raises(ConfigError, match=r"^stages\[0\]\.send\.amount\.amount: expected an integer"):
        validate_config(load_yaml(body.encode()))


def test_an_empty_body_is_null() -> None:
    assert load_yaml(b"") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"a: &x 1\nb: *x", "anchors and aliases are not supported"),
        (b"a: &x 1", "anchors and aliases are not supported"),
        (b"base: &b {x: 1}\nother:\n  <<: *b", "anchors and aliases are not supported"),
        (b"1: a", "mapping keys must be strings"),
        (b"true: a", "mapping keys must be strings"),
        (b"~: a", "mapping keys must be strings"),
        (b"{[a]: 1}", "mapping keys must be strings"),
        (b"a: 1\na: 2", "duplicate key 'a'"),
        (b"a: !!binary aGVsbG8=", "unsupported tag !!binary"),
        (b"a: !!python/object:os.system x", "unsupported tag"),
        (b"a: !custom x", "unsupported tag"),
        (b"a: !!float .inf", "invalid number"),
        (b"a: !!bool yes", "invalid boolean"),
        # Beyond what Python reads or prints as a decimal integer (json.loads refuses them too).
        (b"a: " + b"9" * 5000, "integer too large"),
        (b"a: 0x" + b"f" * 5000, "integer too large"),
    ],
)
def test_yaml_beyond_json_is_rejected(body: bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^unmarshalling yaml: ") as caught:
        load_yaml(body)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [b"a: [1", b"- a\n- b: c\n d", b"---\na\n---\nb", b"\xff\xfe\x00", b"a: b: c", b"[" * 5000],
)
def test_syntax_errors_say_unmarshalling_yaml(body: bytes) -> None:
    with pytest.raises(ConfigError, match=r"^unmarshalling yaml: ") as caught:
        load_yaml(body)
    assert "\n" not in str(caught.value)


def test_syntax_errors_say_where() -> None:
    with pytest.raises(ConfigError, match=r"^unmarshalling yaml: line 1, column 6: "):
        load_yaml(b"a: [1")
