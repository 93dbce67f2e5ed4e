"""Secrets kept out of logs and printouts: the password of a URL's ``user:password@``.

`masked_url` is for a URL printed on purpose (``floorstream up`` shows where PostgreSQL is);
`redact` is what the log formatters apply to every line, in case an error message carries a
URL with its login.
"""

from __future__ import annotations

import re
from typing import Final

_LOGIN: Final = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+@")


def redact(text: str) -> str:
    """``text`` with every ``scheme://user:password@`` written ``scheme://user:***@``."""
    return _LOGIN.sub(r"\g<head>***@", text)


def masked_url(url: str) -> str:
    """``postgresql://floorstream:***@host:5432/db`` for ``…:secret@…``; others unchanged."""
    return redact(url)
