"""The events the sandbox queues, with every field the platform documents."""

from __future__ import annotations

import math
import secrets
from typing import Any

from ._state import Assessment, Candidate, iso_ms

ORG_ID = "RORG000001"  # the sandbox's own organisation; added ones count up from it
PASS_MARKS = 60
TOTAL_MARKS = 100

_SKILLS = {
    "programming": ["Python", "Algorithms", "Data structures"],
    "knowledge": ["System design", "HTTP", "Databases"],
}
_QUESTIONS = [
    ("mcq", "Which HTTP status code means the request needs authentication?", "401"),
    ("true-false", "An HS256 JWT is signed with a shared secret.", "true"),
    ("short-answer", "What does idempotent mean for an HTTP method?", "Same effect if repeated"),
    ("long-answer", "Describe how you would de-duplicate events delivered at least once.",
     "Store each eventId as a primary key and skip ids already seen."),
]


def skills_for(assessment: Assessment) -> list[str]:
    return list(_SKILLS.get(assessment.method or "", _SKILLS["knowledge"]))


def assessment_url(base_url: str, assessment: Assessment, key_id: str) -> str:
    return f"{base_url}/assessment/{assessment.id}/{key_id}"


def candidate_url(base_url: str, assessment: Assessment, candidate: Candidate, key_id: str) -> str:
    """A candidate's own link: the only way to finish as that candidate."""
    return f"{assessment_url(base_url, assessment, key_id)}/{candidate.key}"


def candidates_with_links(
    assessment: Assessment, base_url: str, key_id: str
) -> list[dict[str, str]]:
    # The platform emails each candidate their link; the sandbox sends no email, so the
    # links ride along in the events only the API key holder can read.
    return [
        {**c.as_dict(), "link": candidate_url(base_url, assessment, c, key_id)}
        for c in assessment.candidates
    ]


def campaign_generated(
    assessment: Assessment, *, link: str, key_id: str, org_id: str, base_url: str
) -> dict[str, Any]:
    return {
        "event": "campaign.generated",
        "workflowId": assessment.workflow_id,
        "assessmentId": assessment.id,
        "assessmentLink": link,
        "method": assessment.method,
        "candidates": candidates_with_links(assessment, base_url, key_id),
        "totalCandidates": len(assessment.candidates),
        "jobTitle": assessment.job_title,
        "experience": assessment.experience,
        "level": assessment.level,
        "skills": skills_for(assessment),
        "keyId": key_id,
        "orgId": org_id,
    }


def assessment_sent(
    assessment: Assessment, *, url: str, key_id: str, org_id: str, base_url: str
) -> dict[str, Any]:
    return {
        "event": "assessment.sent",
        "assessmentId": assessment.id,
        "assessmentUrl": url,
        "keyId": key_id,
        "orgId": org_id,
        "jobTitle": assessment.job_title,
        "candidates": candidates_with_links(assessment, base_url, key_id),
        "totalCandidates": len(assessment.candidates),
    }


def _question_answers(score: int) -> list[dict[str, Any]]:
    per_question = TOTAL_MARKS // len(_QUESTIONS)
    remaining = score
    answers = []
    for number, (kind, question, expected) in enumerate(_QUESTIONS, start=1):
        marks = min(per_question, remaining)
        remaining -= marks
        answers.append(
            {
                "questionNumber": number,
                "type": kind,
                "question": question,
                "answer": expected if marks == per_question else "(partial answer)",
                "correctAnswer": expected,
                "isCorrect": marks == per_question,
                "marksAwarded": marks,
                "maxMarks": per_question,
            }
        )
    return answers


def assessment_completed(
    assessment: Assessment,
    candidate: Candidate,
    *,
    now: float,
    base_url: str,
    key_id: str,
    org_id: str,
    report_id: str,
    outcome: str = "completed",
    score: int | None = None,
) -> dict[str, Any]:
    """An `assessment.completed` (or `.disqualified`) event; `eventId`/`storedAt`
    are added by the queue."""
    disqualified = outcome == "disqualified"
    if score is None:
        score = 35 + secrets.randbelow(61)  # 35..95: some pass, some fail
    started = assessment.opened_at if assessment.opened_at is not None else assessment.created_at
    violations = 4 + secrets.randbelow(4) if disqualified else secrets.randbelow(3)
    return {
        "event": "assessment.disqualified" if disqualified else "assessment.completed",
        "assessmentId": assessment.id,
        "assessmentName": f"{assessment.job_title} Assessment",
        "jobTitle": assessment.job_title,
        "candidateId": candidate.id,
        "candidateName": candidate.name,
        "candidateEmail": candidate.email,
        "skills": skills_for(assessment),
        "status": "submitted" if disqualified else "completed",
        "score": score,
        "totalMarks": TOTAL_MARKS,
        "passMarks": PASS_MARKS,
        "passed": (not disqualified) and score >= PASS_MARKS,
        "submittedAt": iso_ms(int(now * 1000)),
        "durationMinutes": max(1, math.ceil((now - started) / 60)),
        "aiFeedback": None,  # generated after submit on the platform: null when first stored
        "reportUrl": f"{base_url}/reports/{report_id}",
        "questionAnswers": _question_answers(score),
        "verification": {"imageUrl": f"{base_url}/media/{report_id}/selfie.svg"},
        "proctoring": {"score": max(0, 100 - 12 * violations), "violationCount": violations},
        "recording": {"url": None, "status": "processing"},
        "keyId": key_id,
        "orgId": org_id,
    }
