"""Plain-language words for codes, shared by every renderer so that formats cannot disagree."""

RESPONSE_LABELS = {
    "BASELINE": "baseline",
    "CR": "complete response",
    "PR": "partial response",
    "SD": "stable disease",
    "PD": "progressive disease",
    "NE": "not evaluable",
    "non-CR/non-PD": "non-CR/non-PD",
}


def response_label(code: str | None) -> str:
    if code is None:
        return "—"
    return RESPONSE_LABELS.get(code, code)


SEVERITY_WORDS = {"alert": "ALERT", "watch": "WATCH", "info": "INFO"}
SEVERITY_SYMBOLS = {"alert": "‼", "watch": "▲", "info": "·"}
