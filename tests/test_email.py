"""The fast email path must give exactly email-validator's answer, address for address."""

from __future__ import annotations

import email_validator
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from assessment_asgi._email import validate_email


def reference(value: str) -> str | None:
    try:
        return str(email_validator.validate_email(value, check_deliverability=False).normalized)
    except email_validator.EmailNotValidError:
        return None


def ours(value: str) -> str | None:
    try:
        return validate_email(value)
    except ValueError:
        return None


ATOM_CHARS = "abcxyzABCXYZ0189!#$%&'*+/=?^_`{|}~-"
atoms = st.text(alphabet=ATOM_CHARS, min_size=0, max_size=12)
labels = st.text(alphabet="abzABZ019-", min_size=0, max_size=12)


@st.composite
def plausible(draw: st.DrawFn) -> str:
    """Near-misses as much as hits: empty atoms, leading dashes, numeric TLDs, long parts."""
    local = ".".join(draw(st.lists(atoms, min_size=1, max_size=4)))
    domain = ".".join(draw(st.lists(labels, min_size=1, max_size=4)))
    tld = draw(st.sampled_from(["com", "IO", "x", "c0m", "123", "test", "local", "museum", "a" * 64]))
    if draw(st.booleans()):
        local = local * draw(st.integers(1, 8))
    return f"{local}@{domain}.{tld}" if domain else f"{local}@{tld}"


@settings(max_examples=400, deadline=None)
@given(plausible())
@example("Ada.Lovelace@Example.COM")
@example("a@b.co")
@example("x@sub.localhost")
@example("x@foo.test")
@example("a..b@example.com")
@example(".a@example.com")
@example("a@-example.com")
@example("a@example.123")
@example("a" * 65 + "@example.com")
def test_fast_path_agrees_with_email_validator(address: str) -> None:
    assert ours(address) == reference(address)


@settings(max_examples=300, deadline=None)
@given(st.emails())
def test_agrees_on_generated_valid_addresses(address: str) -> None:
    assert ours(address) == reference(address)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ATOM_CHARS + ".@éü", max_size=40))
def test_agrees_on_arbitrary_text(value: str) -> None:
    assert ours(value) == reference(value)


@pytest.mark.parametrize(
    "value", ["a@example.com\r\nBcc: x@evil.example", "Ada <ada@example.com>",
              "a@example.com, b@example.com", "a b@example.com", "a@example.com;"]
)
def test_only_bare_addresses_are_accepted(value: str) -> None:
    with pytest.raises(ValueError, match="bare email address"):
        validate_email(value)


def test_internationalised_addresses_take_the_full_path() -> None:
    assert validate_email("josé@Exämple.com") == reference("josé@Exämple.com")


def test_special_use_domains_are_single_labels() -> None:
    """The fast path checks only the last label: true while every special-use name is one."""
    assert all("." not in name for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)


# -- IDNA labels (issue #12) ------------------------------------------------------------------

# Real punycode labels (bücher, münchen, a Cyrillic homograph of "apple"), broken ones, and
# labels IDNA reserves (two letters, then "--").
IDNA_LABELS = ["xn--bcher-kva", "xn--mnchen-3ya", "xn--80ak6aa92e", "xn--a", "xn--CANARY",
               "XN--bcher-kva", "ab--cd", "a--b", "xn--", "xn--zz-", "abc--d"]
idna_labels = st.one_of(st.sampled_from(IDNA_LABELS), labels.map(lambda label: label + "--x"),
                        labels.map(lambda label: "xn--" + label))


@st.composite
def idna_addresses(draw: st.DrawFn) -> str:
    local = draw(atoms.filter(bool))
    domain = draw(st.lists(st.one_of(idna_labels, labels), min_size=1, max_size=3))
    tld = draw(st.sampled_from(["com", "xn--p1ai", "de"]))
    return f"{local}@{'.'.join(domain)}.{tld}"


@settings(max_examples=400, deadline=None)
@given(idna_addresses())
@example("a@xn--CANARY.com")
@example("a@xn--a.com")
@example("a@ab--cd.com")
@example("a@xn--80ak6aa92e.com")
def test_agrees_on_idna_labels(address: str) -> None:
    assert ours(address) == reference(address)


def test_punycode_is_forwarded_in_email_validators_normalised_form() -> None:
    # A homograph of "apple" in Cyrillic: forwarded as email-validator shows it, not as ASCII.
    assert validate_email("a@xn--80ak6aa92e.com") == "a@\u0430\u0440\u0440\u04cf\u0435.com"


@pytest.mark.parametrize("value", ["a@xn--CANARY.com", "a@xn--a.com", "a@ab--cd.com"])
def test_addresses_email_validator_refuses_are_refused_without_quoting_them(value: str) -> None:
    with pytest.raises(ValueError, match=r"^is not a valid email address$"):
        validate_email(value)
