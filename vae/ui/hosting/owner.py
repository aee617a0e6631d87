"""Who owns a session's jobs and models: a secret token in a cookie of this browser, never in the URL.

The first run of a browser draws 128 random bits, keeps them in session state and asks the browser
(a tiny `st.components.v2` component, no iframe) to store them in a `SameSite=Strict` cookie. A reload
or a new tab of the same browser sends the cookie with the websocket handshake, where
`st.context.cookies` reads it, so it finds its jobs again. Another browser, even with the same URL,
has another token and sees none of them: a shared link shares the page, never control.

Served over HTTPS (Streamlit's `server.sslCertFile`, or a proxy that terminates TLS) the cookie is also
`Secure`: the browser never sends it over plain HTTP. It cannot be `HttpOnly`: Streamlit gives an app no
HTTP response of its own to set it on, so a script on the page can read it (only the app's own scripts run
there; nothing is fetched from elsewhere). What it guards is control of jobs and gallery entries, not data.

`browser_id()` is the public name of the owner (a hash of the token) used in job keys, model ids
and run folders; the token itself never leaves this module except in the cookie.
"""

from __future__ import annotations

import hashlib
import re
import secrets

import streamlit as st

COOKIE = "vae_explorer_owner"
_TOKEN = "_vae_owner_token"
_COOKIE_SET = "_vae_owner_cookie_set"
_TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
COOKIE_MAX_AGE_S = 30 * 24 * 3600

_set_cookie = st.components.v2.component(
    "vae_owner_cookie",
    html="",
    js="""
export default function (component) {
  const d = component.data || {};
  if (d.name && d.value && !document.cookie.split('; ').includes(d.name + '=' + d.value)) {
    const secure = window.location.protocol === 'https:' ? '; Secure' : '';
    document.cookie = `${d.name}=${d.value}; path=/; max-age=${d.max_age}; SameSite=Strict${secure}`;
  }
}
""",
)


def _token_from_cookie() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no request context (AppTest, bare mode)
        return None
    return value if isinstance(value, str) and _TOKEN_RE.match(value) else None


def owner_token() -> str:
    """This browser's secret token (32 hex digits): from its cookie, else new for this session."""
    token = st.session_state.get(_TOKEN)
    if token is None:
        token = _token_from_cookie()
        if token is None:
            token = secrets.token_hex(16)
        else:
            st.session_state[_COOKIE_SET] = True      # the browser already holds it
        st.session_state[_TOKEN] = token
    return token


def browser_id() -> str:
    """The public id of this browser's owner (12 hex digits of sha256(token)): keys its jobs and run folders."""
    return public_id(owner_token())


def public_id(token: str) -> str:
    return hashlib.sha256(f"vae-owner:{token}".encode()).hexdigest()[:12]


def remember_in_browser() -> None:
    """Ask the browser to store the token in its cookie (a no-op once it holds it). Call once per run."""
    token = owner_token()
    if st.session_state.get(_COOKIE_SET):
        return
    _set_cookie(key="vae_owner_cookie", data={"name": COOKIE, "value": token, "max_age": COOKIE_MAX_AGE_S},
                height="content")
