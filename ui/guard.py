"""The page's edge: who may reach it, which routes need the password, and what it keeps of an upload.

Beyond loopback the page needs a password (`exposure_warning`; `launch` refuses to start without one). With
`auth` set, Gradio asks for the login on its API, its file route and its config, but not on the routes that
stream an output's audio (`/gradio_api/stream/...`) nor on a few that act on a running event. Those carry the
interviewer's speech and a session's events, so `PasswordGuard` refuses them without the login cookie, as
Gradio's own check does for the rest. A recording is deleted from Gradio's cache once it has been heard.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

GUARDED = ("/gradio_api/stream/", "/gradio_api/heartbeat/", "/gradio_api/cancel", "/gradio_api/reset",
           "/gradio_api/run-history/", "/gradio_api/runs", "/gradio_api/vibe", "/gradio_api/undo-vibe")


class PasswordGuard:
    """Refuses the GUARDED routes to a request without a valid login cookie, when the app has a password."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(GUARDED) and not _allowed(scope):
            from starlette.responses import PlainTextResponse

            await PlainTextResponse("Not authenticated", status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _allowed(scope) -> bool:
    """Whether Gradio's own login check would let this request through."""
    from starlette.requests import HTTPConnection

    app = scope.get("app")
    if app is None or getattr(app, "auth", None) is None:  # no password set: loopback only (see launch)
        return True
    cookies = HTTPConnection(scope).cookies
    token = cookies.get(f"access-token-{app.cookie_id}") or cookies.get(f"access-token-unsecure-{app.cookie_id}")
    return app.tokens.get(token) is not None


def exposure_warning(host: str, password: str) -> str | None:
    """A warning when the page would be reachable beyond this machine without a password."""
    import ipaddress

    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if local or password:
        return None
    return (f"WARNING: the page binds to {host}, reachable from other machines, and has no password. "
            "Anyone who can reach it can use it and read its sessions. Set INTERVIEWER_PASSWORD.")


def check_exposure(settings) -> str | None:
    """Refuse to serve beyond loopback without a password unless `insecure` is set; then return the warning
    to print. None when the page is safe to serve as configured."""
    from interviewer.errors import BadInput

    warning = exposure_warning(settings.host, settings.password)
    if warning and not settings.insecure:
        raise BadInput(warning.removeprefix("WARNING: ") + " Or, to serve it like that anyway, pass --insecure "
                       "(INTERVIEWER_INSECURE=true).")
    if warning:
        log.warning("Serving beyond loopback without a password, as --insecure asked.")
    return warning


def discard_upload(recording: str | None) -> None:
    """Delete a recording Gradio stored for one answer once it has been heard: the audio is not kept. Only a
    file inside Gradio's own cache is deleted, never one from anywhere else."""
    if not recording:
        return
    import tempfile

    path = Path(recording).resolve()
    cache = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()
    if cache not in path.parents:
        log.info("kept %s: it is not in Gradio's cache %s", path, cache)
        return
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()  # the folder Gradio made for this one upload, now empty
    except OSError:
        pass
