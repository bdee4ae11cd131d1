"""The secret families beacon redacts, as data.

Two tables, each compiled into ONE alternation (see ``redact.py``):

* ``TOKEN_RULES``: self-identifying credentials (a vendor prefix or a fixed
  shape). They are found anywhere in any string.
* ``CONTEXT_RULES``: values that are only secret because of what precedes
  them (``password=...``, ``--token X``, ``Authorization: ...``). They run
  after the token pass so a ``GITHUB_TOKEN=ghp_...`` is reported as the more
  precise ``github_token``.

A rule's regex may contain a group named ``v``: then only that part is
replaced and the context (``AccountKey=``, the user name of a URL) stays
readable. Family names are what ``[REDACTED:<family>]`` and the redaction
counts show; they must be lower-case ``[a-z0-9_]``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecretRule:
    """One family. ``anchors``: lower-case substrings, one of which every match contains
    (checked on the lower-cased text); ``anchors_cs``: the same, case-sensitive. A string
    holding no anchor of a rule skips that rule's regex, which keeps redaction fast."""

    family: str
    pattern: str
    anchors: tuple[str, ...] = ()
    anchors_cs: tuple[str, ...] = ()


# Characters that may continue a token: a match must not stop inside a longer word.
_END = r"(?![A-Za-z0-9_\-])"

TOKEN_RULES: tuple[SecretRule, ...] = (
    SecretRule(
        "private_key",
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]{0,16384}?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        # A block cut off before its END line: everything that looks like its body.
        r"|(?:[A-Za-z0-9+/=:,\- \t\r\n]|\\[nrt]){0,16384})",
        anchors=("private key",),
    ),
    SecretRule(
        "aws_access_key",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}"
        r"(?![A-Za-z0-9])",
        anchors_cs=(
            "AKIA",
            "ASIA",
            "ABIA",
            "ACCA",
            "AGPA",
            "AIDA",
            "AIPA",
            "ANPA",
            "ANVA",
            "AROA",
            "APKA",
            "ASCA",
        ),
    ),
    SecretRule(
        "aws_secret_key",
        r"(?i:aws)[A-Za-z0-9_.\-]{0,30}?(?i:secret)[A-Za-z0-9_.\-]{0,30}\\?[\"']?\s*[:=]>?\s*"
        r"\\?[\"']?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
        anchors=("aws",),
    ),
    SecretRule(
        "github_token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})" + _END,
        anchors=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    SecretRule("anthropic_key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}", anchors=("sk-ant-",)),
    SecretRule(
        "openai_key",
        r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}"
        r"|\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}" + _END + r"|\bsk-[A-Za-z0-9]{32,}" + _END,
        anchors=("sk-",),
    ),
    SecretRule(
        "stripe_key",
        r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}" + _END,
        anchors=("_live_", "_test_"),
    ),
    SecretRule("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}" + _END, anchors=("aiza",)),
    SecretRule(
        "slack_webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]{8,}",
        anchors=("hooks.slack.com",),
    ),
    SecretRule("slack_token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", anchors=("xox",)),
    SecretRule("npm_token", r"\bnpm_[A-Za-z0-9]{36}" + _END, anchors=("npm_",)),
    SecretRule("pypi_token", r"\bpypi-AgE[A-Za-z0-9_\-]{20,}", anchors=("pypi-",)),
    SecretRule(
        "gitlab_token",
        r"\bgl(?:pat|dt|rt|ptt|cbt|ft|imt|oas|soat)-[A-Za-z0-9_\-]{20,}",
        anchors=(
            "glpat-",
            "gldt-",
            "glrt-",
            "glptt-",
            "glcbt-",
            "glft-",
            "glimt-",
            "gloas-",
            "glsoat-",
        ),
    ),
    SecretRule(
        "azure_storage_key",
        r"(?i:AccountKey)=(?P<v>[A-Za-z0-9+/]{20,}={0,2})",
        anchors=("accountkey=",),
    ),
    SecretRule(
        "azure_sas",
        r"[?&;\s\"'](?:sig)=(?P<v>[A-Za-z0-9%+/]{20,}(?:=|%3[Dd]){0,2})",
        anchors=("sig=",),
    ),
    SecretRule("twilio_key", r"\b(?:SK|AC)[0-9a-fA-F]{32}(?![A-Za-z0-9])", anchors_cs=("SK", "AC")),
    SecretRule(
        "sendgrid_key",
        r"\bSG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}" + _END,
        anchors_cs=("SG.",),
    ),
    SecretRule(
        "datadog_key",
        r"(?i:\b(?:DD|DATADOG)_(?:API|APP|APPLICATION)_KEY)\\?[\"']?\s*[:=]\s*\\?[\"']?"
        r"(?P<v>[a-fA-F0-9]{32,40})(?![A-Za-z0-9])",
        anchors=("dd_", "datadog_"),
    ),
    SecretRule(
        "jwt",
        r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        anchors_cs=("eyJ",),
    ),
    SecretRule(
        "url_credentials",
        r"\b[A-Za-z][A-Za-z0-9+.\-]{0,20}://[^\s:/@\"'<>\[\]]{1,256}:"
        r"(?P<v>[^\s/@\"'<>\[\]]{1,256})@",
        anchors=("://",),
    ),
)

# A regex of key names, not a password.
_SECRET_WORD = (
    r"(?:password|passwd|passphrase|pwd|secret|token|credentials?"  # noqa: S105
    r"|(?:api|access|private|secret|signing|encryption|master|auth|client)[_\-]?key)"
)

CONTEXT_RULES: tuple[SecretRule, ...] = (
    SecretRule(
        "authorization",
        r"(?i:\b(?:proxy-)?authorization)\\?[\"']?\s*[:=]\s*\\?[\"']?"
        r"(?:(?i:bearer|basic|token|digest|negotiate)\s+)?"
        r"(?!(?i:bearer|basic|token|digest|negotiate)\b)(?P<v>[A-Za-z0-9._~+/\-=%]{6,})",
        anchors=("authorization",),
    ),
    SecretRule(
        "bearer_token",
        r"(?i:\bbearer)\s+(?P<v>(?=[A-Za-z0-9._~+/\-]*[0-9])[A-Za-z0-9._~+/\-]{16,}=*)",
        anchors=("bearer",),
    ),
    # --password X / --token=X; the attached -pSECRET form only after a MySQL client,
    # where -p means password (elsewhere -p is mkdir's parents, a port, ...).
    SecretRule(
        "secret_flag",
        r"(?<!-)(?i:--[A-Za-z0-9\-]{0,40}?"
        + _SECRET_WORD
        # A quoted value runs to its closing quote (spaces and shell characters are
        # part of it); an unquoted one ends where the shell would end the word.
        + r")(?:=|\s+)(?P<q>[\"'])?(?P<v>(?(q)[^\"'\n]{3,512}|[^\s\"'`;&|<>()\[\]{}]{3,}))"
        r"|(?i:\b(?:mysql|mysqldump|mysqladmin|mariadb))\b[^\n|;&]{0,200}?\s-p(?P<v2>[^\s\"'`;&|]{3,})",
        anchors=(
            "password",
            "passwd",
            "passphrase",
            "pwd",
            "secret",
            "token",
            "key",
            "credential",
            "mysql",
            "mariadb",
        ),
    ),
    SecretRule(
        "secret_assignment",
        # The key starts where a name can start: scanning from inside long runs of name
        # characters would be quadratic.
        r"(?<![A-Za-z0-9_.\-])(?i:[A-Za-z0-9_.\-]{0,64}?"
        + _SECRET_WORD
        + r")(?![A-Za-z0-9])\\?[\"']?\s*(?::=|=>|[:=])[ \t]*"
        # Quoted: up to the closing quote (a passphrase has spaces); unquoted: one word.
        # A quote may be a shell splice: shlex.quote writes ' inside '...' as '"'"'.
        r"(?P<q>'\"'\"'|'\\\\''|\\?[\"'])?"
        r"(?P<v>(?(q)[^\"'\\\n]{1,512}|[^\s\"'\\`,;&|<>()\[\]{}]{1,512}))",
        anchors=("password", "passwd", "passphrase", "pwd", "secret", "token", "key", "credential"),
    ),
)

# Attribute / JSON object keys whose whole string value is a secret (an HTTP header
# attribute such as ``http.request.header.authorization`` too).
SECRET_KEY_PATTERN = r"(?i)^[A-Za-z0-9_.\-]*(?:" + _SECRET_WORD + r"|authorization)$"

# Unquoted values that are code, not credentials: lower-case identifiers (``token=token``),
# UPPER_CASE names (``password=DB_PASSWORD``), dotted attribute paths
# (``password=args.password``, ``token = process.env.GITHUB_TOKEN``) and literals.
HARMLESS_VALUE_PATTERN = (
    r"^(?:[a-z_]+|[A-Z_][A-Z0-9_]*|[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+"
    r"|None|null|nil|undefined|true|false)$"
)
