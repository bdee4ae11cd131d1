"""Quoted secret values are redacted whole: a passphrase has spaces and shell characters."""

from __future__ import annotations

import pytest

from beacon.pipeline.redact import Redactor

SECRET = "correct horse&battery;staple"


@pytest.mark.parametrize(
    ("template", "family"),
    [
        ('{{"password": "{v}"}}', "secret_assignment"),
        ('{{\\"db_password\\": \\"{v}\\"}}', "secret_assignment"),  # JSON inside JSON
        ("PASSWORD='{v}'", "secret_assignment"),
        ('api_token: "{v}"', "secret_assignment"),
        ("mysql --password '{v}' db", "secret_flag"),
        ('deploy --token="{v}"', "secret_flag"),
    ],
)
def test_the_whole_quoted_value_is_replaced(template: str, family: str) -> None:
    counts: dict[str, int] = {}
    out = Redactor().redact_text(template.format(v=SECRET), counts)
    assert counts == {family: 1}
    for word in ("correct", "horse", "battery", "staple"):
        assert word not in out, out
    assert f"[REDACTED:{family}]" in out


@pytest.mark.parametrize(
    "text",
    [
        '--password "$DB_PASS"',  # a reference, not the secret
        "password = os.environ['DB_PASSWORD']",
        'token: ""',
    ],
)
def test_references_and_empty_values_are_left_alone(text: str) -> None:
    counts: dict[str, int] = {}
    assert Redactor().redact_text(text, counts) == text
    assert counts == {}


def test_an_unquoted_shell_word_ends_where_the_shell_ends_it() -> None:
    # Unquoted, `&` ends the word for the shell: the password is what precedes it.
    counts: dict[str, int] = {}
    out = Redactor().redact_text("mysql --password=Tr0ub4dor&3 db", counts)
    assert out == "mysql --password=[REDACTED:secret_flag]&3 db"
