"""Email validation: a fast exact path for plain ASCII addresses, email-validator for the rest.

email-validator is thorough but costs ~80 µs an address: most of a 1,000-candidate body's
validation time. Almost every real address is plain ASCII (`dot-atom@host.tld`), where its
rules reduce to the pattern below; those are checked here and normalised as it would (domain
lower-cased). Anything else — internationalised, punycode (`xn--`), a double hyphen (IDNA
reserves `ab--`), odd, or refused — goes to email-validator, so the answer and the
normalised address forwarded are always the ones it gives (`a@xn--80ak6aa92e.com` is
forwarded as its Unicode form, so a homograph is visible). A property test holds the two
paths together, IDNA labels included.

Reasons given for a refusal never quote the address: it is personal data, and the 400's
`details` would echo it back.
"""

from __future__ import annotations

import re

import email_validator

MAX_EMAIL_LENGTH = 254
MAX_LOCAL_LENGTH = 64

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
# Domains email-validator refuses (all single labels, so checking the last label suffices).
_SPECIAL_USE = frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)
# A bare address only: no "Name <addr>" form, no lists, no whitespace or header breaks.
_NOT_BARE = re.compile(r"[\s<>,;\x00-\x1f\x7f]")


def validate_email(value: str) -> str:
    """The normalised address, or `ValueError` with a reason fit for a 400."""
    if _NOT_BARE.search(value):
        raise ValueError("must be a bare email address (no spaces, <>, commas or line breaks)")
    if len(value) > MAX_EMAIL_LENGTH:
        raise ValueError(f"must be at most {MAX_EMAIL_LENGTH} characters")
    match = _PLAIN.fullmatch(value)
    if match is not None:
        local, domain = match.groups()
        domain = domain.lower()
        if (
            len(local) <= MAX_LOCAL_LENGTH
            and "--" not in domain  # punycode (xn--) and IDNA-reserved labels: email-validator
            and domain.rpartition(".")[2] not in _SPECIAL_USE
        ):
            return f"{local}@{domain}"
    try:
        return str(email_validator.validate_email(value, check_deliverability=False).normalized)
    except email_validator.EmailNotValidError:
        raise ValueError("is not a valid email address") from None

