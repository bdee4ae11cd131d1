"""Hypothesis strategies: one generator of realistic secrets per redaction family.

Each strategy yields ``(text, secret)``: ``text`` is how the secret appears
(bare token, assignment, header...) and ``secret`` the part that must never
survive redaction.
"""

from __future__ import annotations

import base64
import string

from hypothesis import strategies as st

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = string.ascii_letters + string.digits + "+/"
URLSAFE = string.ascii_letters + string.digits + "_-"


def chars(alphabet: str, size: int, max_size: int | None = None) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=size, max_size=max_size or size)


def _bare(prefix: str, body: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
    return body.map(lambda b: (prefix + b, prefix + b))


def _with_digit(body: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # Real tokens practically always hold a digit; keep the generated ones realistic.
    return body.map(lambda b: b[:-1] + "7")


def _jwt() -> st.SearchStrategy[tuple[str, str]]:
    def part(s: str) -> str:
        return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")

    def build(t: tuple[str, str, str]) -> tuple[str, str]:
        header = part('{"alg":"' + t[0] + '"}')
        claims = part('{"sub":"' + t[1] + '"}')
        token = f"{header}.{claims}.{t[2]}"
        return token, token

    return st.tuples(chars(ALNUM, 3, 12), chars(ALNUM, 4, 20), chars(URLSAFE, 20, 43)).map(build)


def _pem() -> st.SearchStrategy[tuple[str, str]]:
    return st.lists(chars(B64, 64), min_size=1, max_size=4).map(
        lambda lines: (
            "-----BEGIN RSA PRIVATE KEY-----\n"
            + "\n".join(lines)
            + "\n-----END RSA PRIVATE KEY-----",
            lines[0],
        )
    )


def _context(
    prefix: str, body: st.SearchStrategy[str], suffix: str = ""
) -> st.SearchStrategy[tuple[str, str]]:
    return body.map(lambda b: (f"{prefix}{b}{suffix}", b))


# A password-like value: mixed case and digits, as real credentials are.
_PASSWORD = st.tuples(chars(ALNUM, 6, 20), chars(string.digits, 1, 3), chars("!@#^*", 0, 2)).map(
    lambda t: "Qx" + t[0] + t[1] + t[2]
)

FAMILIES: dict[str, st.SearchStrategy[tuple[str, str]]] = {
    "aws_access_key": _bare("AKIA", chars(UPPER_DIGITS, 16)),
    "aws_secret_key": _context("aws_secret_access_key = ", chars(ALNUM + "/+", 40)),
    "github_token": st.one_of(
        st.sampled_from(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]).flatmap(
            lambda p: _bare(p, _with_digit(chars(ALNUM, 36)))
        ),
        _bare("github_pat_", chars(ALNUM + "_", 82)),
    ),
    "anthropic_key": _bare("sk-ant-api03-", chars(URLSAFE, 40, 95)),
    "openai_key": st.one_of(
        _bare("sk-proj-", chars(URLSAFE, 40, 80)),
        _bare("sk-svcacct-", chars(URLSAFE, 40, 80)),
        _bare("sk-", _with_digit(chars(ALNUM, 48))),
    ),
    "stripe_key": st.sampled_from(["sk_live_", "rk_live_", "sk_test_"]).flatmap(
        lambda p: _bare(p, chars(ALNUM, 24, 40))
    ),
    "google_api_key": _bare("AIza", chars(URLSAFE, 35)),
    "google_service_account": _context(
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n',
        chars(B64, 64),
        '\\n-----END PRIVATE KEY-----\\n"}',
    ),
    "slack_token": st.sampled_from(["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxo-"]).flatmap(
        lambda p: _bare(
            p,
            chars(string.digits, 10, 13)
            .map(lambda d: d + "-")
            .flatmap(lambda d: chars(ALNUM, 24).map(lambda r: d + r)),
        )
    ),
    "slack_webhook": _bare(
        "https://hooks.slack.com/services/T",
        st.tuples(chars(UPPER_DIGITS, 8), chars(UPPER_DIGITS, 8), chars(ALNUM, 24)).map(
            lambda t: f"{t[0]}/B{t[1]}/{t[2]}"
        ),
    ),
    "npm_token": _bare("npm_", chars(ALNUM, 36)),
    "pypi_token": _bare("pypi-AgEIcHlwaS5vcmc", chars(URLSAFE, 50, 150)),
    "gitlab_token": _bare("glpat-", chars(URLSAFE, 20)),
    "azure_storage_key": _context(
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=", chars(B64, 86), "==;"
    ),
    "azure_sas": _context(
        "https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=", chars(ALNUM, 43), "%3D"
    ),
    "twilio_key": st.sampled_from(["SK", "AC"]).flatmap(lambda p: _bare(p, chars(HEX, 32))),
    "sendgrid_key": st.tuples(chars(URLSAFE, 22), chars(URLSAFE, 43)).map(
        lambda t: (f"SG.{t[0]}.{t[1]}", f"SG.{t[0]}.{t[1]}")
    ),
    "datadog_key": st.sampled_from(["DD_API_KEY=", "DD_APP_KEY=", "DATADOG_API_KEY: "]).flatmap(
        lambda p: _context(p, chars(HEX, 32, 40))
    ),
    "jwt": _jwt(),
    "private_key": _pem(),
    "authorization": st.sampled_from(
        ["Authorization: Bearer ", "authorization: Basic ", "Authorization=Token "]
    ).flatmap(lambda p: _context(p, _with_digit(chars(ALNUM + "._-", 20, 60)))),
    "url_credentials": st.sampled_from(
        ["https://", "postgres://", "redis://", "git+ssh://"]
    ).flatmap(lambda scheme: _context(f"{scheme}deploy:", _PASSWORD, "@db.internal:5432/app")),
    "secret_assignment": st.sampled_from(
        ["password=", "DB_PASSWORD=", "api_key: ", "client_secret = ", '"token": "', "SECRET_KEY='"]
    ).flatmap(
        lambda p: _context(p, _PASSWORD, '"' if p.endswith('"') else "'" if p.endswith("'") else "")
    ),
    "secret_flag": st.sampled_from(
        ["--password ", "--token=", "mysql -u root -p", "--api-key "]
    ).flatmap(lambda p: _context(p, _PASSWORD)),
}

any_secret = st.sampled_from(sorted(FAMILIES)).flatmap(
    lambda family: FAMILIES[family].map(lambda pair: (family, *pair))
)

# Words that surround secrets in realistic text; none of them extends a token.
FILLER = st.lists(
    st.sampled_from(
        ["run", "echo", "curl -s", "the", "deploy", "ok", "|", "&&", "\n", "value:", "(", ")"]
    ),
    max_size=4,
).map(" ".join)
