"""The portal's HTML: plain pages rendered on the server, no build step, no external files."""

from __future__ import annotations

from html import escape
from importlib import resources
from typing import Any

from ._state import Assessment, Candidate

_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#0f172a;
background:#f8fafc}
main{max-width:680px;margin:0 auto;padding:28px 24px}
h1{font-size:20px;margin:0 0 4px}
.badge{display:inline-block;font-size:12px;background:#fef3c7;color:#92400e;border-radius:4px;
padding:1px 6px;margin-left:6px;vertical-align:middle}
.muted{color:#64748b}
ul{list-style:none;padding:0}
li{display:flex;gap:12px;align-items:center;justify-content:space-between;background:#fff;
border:1px solid #e2e8f0;border-radius:8px;padding:10px 14px;margin:8px 0}
li[data-state=finished]{border-color:#86efac;background:#f0fdf4}
button{font:inherit;padding:6px 14px;border-radius:6px;border:1px solid #1d4ed8;
background:#2563eb;color:#fff;cursor:pointer}
button:disabled{opacity:.5;cursor:default}
.error{font-size:18px;color:#b91c1c;background:#fef2f2;border:1px solid #fecaca;
border-radius:8px;padding:14px}
#portal-message[data-state=error]{color:#b91c1c}
"""


def static_text(name: str) -> str:
    return resources.files(__package__).joinpath("_static", name).read_text("utf-8")


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def error_page(message: str, base_url: str) -> str:
    """The portal's refusal, e.g. "Token expired" for a reused or expired token."""
    body = (
        "<main id=\"assessment-portal-error\" data-testid=\"portal\">"
        "<h1>SmartAI assessment portal <span class=\"badge\">sandbox</span></h1>"
        f"<p id=\"portal-error\" class=\"error\" data-testid=\"portal-error\" role=\"alert\">"
        f"{escape(message)}</p>"
        "<p class=\"muted\">Ask your recruiter app for a fresh session: each token opens "
        "the portal once.</p></main>"
        f"<script src=\"{escape(base_url)}/portal/portal.js\"></script>"
    )
    return _page("Assessment portal — " + message, body)


def portal_page(
    assessment: Assessment,
    base_url: str,
    *,
    title: str,
    only: Candidate | None = None,
) -> str:
    """Candidates, recruiter, a Finish button per candidate (and Send for sessions).

    The whole list is the recruiter's view, behind the session's single-use token; `only`
    is one candidate's own page, behind that candidate's link: it shows nobody else.
    """
    rows = []
    for candidate in [only] if only is not None else assessment.candidates:
        finished = candidate.id in assessment.finished
        cid = escape(candidate.id)
        state = ' data-state="finished"' if finished else ""
        disabled = " disabled" if finished else ""
        rows.append(
            f"<li data-testid=\"portal-candidate\" data-candidate-id=\"{cid}\""
            f"{state}>"
            f"<span><strong data-testid=\"candidate-name\">{escape(candidate.name)}</strong>"
            f" <span class=\"muted\" data-testid=\"candidate-email\">"
            f"{escape(candidate.email)}</span><br>"
            f"<small class=\"muted\" data-testid=\"candidate-status\">"
            f"{'Finished' if finished else 'Invited'}</small></span>"
            f"<button type=\"button\" data-testid=\"finish-button\" data-candidate-id=\"{cid}\""
            f" data-candidate-key=\"{escape(candidate.key)}\"{disabled}>Finish</button></li>"
        )
    recruiter = "" if only is not None else " · ".join(
        escape(part) for part in (assessment.recruiter_email, assessment.recruiter_id) if part
    )
    recruiter_html = (
        f"<p id=\"portal-recruiter\" data-testid=\"portal-recruiter\">Recruiter: "
        f"<span data-testid=\"recruiter-email\">{escape(assessment.recruiter_email or '')}</span>"
        f" <span class=\"muted\" data-testid=\"recruiter-id\">"
        f"{escape(assessment.recruiter_id or '')}</span></p>"
        if recruiter
        else ""
    )
    send = (
        "<p><button type=\"button\" id=\"portal-send\" data-testid=\"portal-send\">"
        "Send to candidates</button></p>"
        if assessment.kind == "session" and only is None
        else ""
    )
    count = 1 if only is not None else len(assessment.candidates)
    body = (
        f"<main id=\"assessment-portal\" data-testid=\"portal\""
        f" data-assessment-id=\"{escape(assessment.id)}\" data-base-url=\"{escape(base_url)}\""
        f" data-portal-key=\"{escape(assessment.portal_key if only is None else '')}\">"
        f"<h1>{escape(title)} <span class=\"badge\">sandbox</span></h1>"
        f"<p class=\"muted\">{escape(assessment.job_title)} · "
        f"<span data-testid=\"candidate-count\">{count}</span> "
        f"candidate{'s' if count != 1 else ''}</p>"
        f"{recruiter_html}"
        f"<ul id=\"portal-candidates\" data-testid=\"portal-candidates\">{''.join(rows)}</ul>"
        f"{send}"
        "<p id=\"portal-message\" data-testid=\"portal-message\" role=\"status\"></p>"
        "<p class=\"muted\"><small>No real emails are sent: this is the embedded sandbox. "
        "Finishing queues an <code>assessment.completed</code> event for your poller.</small>"
        "</p></main>"
        f"<script src=\"{escape(base_url)}/portal/portal.js\"></script>"
    )
    return _page(title, body)


def overview_page(assessment: Assessment, title: str) -> str:
    """The shared assessment link: what it is, and no candidate's name, email or button."""
    count = len(assessment.candidates)
    body = (
        "<main id=\"assessment-overview\" data-testid=\"overview\">"
        f"<h1>{escape(title)} <span class=\"badge\">sandbox</span></h1>"
        f"<p class=\"muted\">{escape(assessment.job_title)} · "
        f"<span data-testid=\"candidate-count\">{count}</span> "
        f"candidate{'s' if count != 1 else ''}</p>"
        "<p>Each candidate takes this assessment from their own link (in the "
        "<code>campaign.generated</code> / <code>assessment.sent</code> event, or the "
        "portal's <code>candidates[].link</code>).</p></main>"
    )
    return _page(title, body)


def report_page(event: dict[str, Any]) -> str:
    answers = "".join(
        f"<li><span>{escape(str(a['question']))}</span>"
        f"<span>{int(a['marksAwarded'])}/{int(a['maxMarks'])}</span></li>"
        for a in event.get("questionAnswers", [])
    )
    body = (
        "<main id=\"assessment-report\" data-testid=\"report\">"
        f"<h1>{escape(str(event['assessmentName']))} <span class=\"badge\">sandbox</span></h1>"
        f"<p><strong>{escape(str(event['candidateName']))}</strong> "
        f"<span class=\"muted\">{escape(str(event['candidateEmail']))}</span></p>"
        f"<p data-testid=\"report-score\">Score {int(event['score'])}/"
        f"{int(event['totalMarks'])} — {'passed' if event['passed'] else 'not passed'}</p>"
        f"<ul>{answers}</ul></main>"
    )
    return _page("Assessment report", body)


def index_page(base_url: str) -> str:
    body = (
        "<main><h1>SmartAI sandbox <span class=\"badge\">sandbox</span></h1>"
        "<p>An in-memory stand-in for the SmartAI Assessment platform.</p>"
        f"<p>Platform base URL: <code>{escape(base_url)}/api/v1</code></p>"
        f"<p>Portal script: <code>&lt;script src=\"{escape(base_url)}/portal/sdk.js\"&gt;"
        "&lt;/script&gt;</code> then <code>AssessmentPortal.open({ token })</code>.</p></main>"
    )
    return _page("SmartAI sandbox", body)


SELFIE_SVG = (
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"120\""
    " viewBox=\"0 0 120 120\">"
    "<rect width=\"120\" height=\"120\" fill=\"#e2e8f0\"/><circle cx=\"60\" cy=\"46\" r=\"22\""
    " fill=\"#94a3b8\"/><rect x=\"24\" y=\"78\" width=\"72\" height=\"34\" rx=\"17\""
    " fill=\"#94a3b8\"/></svg>"
)
