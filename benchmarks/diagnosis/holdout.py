"""A second labelled set, written after the diagnosis code and not used to tune it: an airline's
booking assistant. Each case goes straight to ``classify_case`` (no server): an answer, the failing
assertion, the rendered prompt and the true gap by the definitions of docs/escalation.md.

Kept as written, misses included, so its figure shows how the signals carry over to text they were
not written against.
"""

from __future__ import annotations

from typing import Any

S_TRAVEL = "You are the booking assistant for Aurora Air. Be concise."
FARE = "Fare rules: Basic fares allow one personal item only. Changes cost EUR 75 before departure. Checked bags are 35 EUR each. Lounge access comes with Gold status."

HOLDOUT: list[dict[str, Any]] = []


def run(
    name: str,
    truth: str,
    kind: str,
    expected: Any,
    output: Any,
    messages: list[tuple[str, str]],
    **options: Any,
) -> None:
    passed = options.pop("passed", 0)
    HOLDOUT.append(
        {
            "id": name,
            "truth": truth,
            "type": kind,
            "expected": expected,
            "outputs": output if isinstance(output, list) else [(output, 1)],
            "messages": messages,
            "options": options,
            "passed": passed,
        }
    )


run(
    "bag-fee-private",
    "knowledge",
    "icontains",
    "35 EUR",
    "Checked bags cost 50 EUR.",
    [("system", S_TRAVEL), ("user", "How much is a checked bag?")],
)
run(
    "bag-fee-grounded",
    "skill",
    "icontains",
    "35",
    "Checked bags are free on all fares.",
    [("system", S_TRAVEL + "\n" + FARE), ("user", "How much is a checked bag?")],
)
run(
    "change-fee-refuse",
    "knowledge",
    "contains",
    "75",
    "I'm afraid I can't say what changes cost.",
    [("system", S_TRAVEL), ("user", "What's the change fee?")],
)
run(
    "change-fee-grounded-refuse",
    "skill",
    "contains",
    "75",
    "I'm afraid I can't say what changes cost.",
    [("system", S_TRAVEL + "\n" + FARE), ("user", "What's the change fee?")],
)
run(
    "iata-code",
    "knowledge",
    "equals",
    "KEF",
    "The airport code is RKV.",
    [("user", "What's the IATA code of the main airport near Reykjavik?")],
)
run(
    "iata-prose",
    "behavior",
    "equals",
    "KEF",
    "The code is KEF.",
    [("user", "IATA code of Keflavik airport? Reply with only the code.")],
)
run(
    "date-iso",
    "behavior",
    "regex",
    r"^\d{4}-\d{2}-\d{2}$",
    "14 February 2026",
    [("system", "Return the departure date in ISO format."), ("user", "I fly on 14 Feb 2026")],
)
run(
    "date-wrong",
    "skill",
    "contains",
    "2026-02-14",
    "2026-02-12",
    [("system", "Return the departure date as YYYY-MM-DD."), ("user", "I fly on 14 Feb 2026")],
)
run(
    "intent-label",
    "skill",
    "equals",
    "cancel_booking",
    "change_booking",
    [
        (
            "system",
            "Classify the intent as one of: new_booking, change_booking, cancel_booking, baggage, other.",
        ),
        ("user", "Please cancel my trip to Oslo, I can't go anymore"),
    ],
)
run(
    "intent-caps",
    "behavior",
    "equals",
    "cancel_booking",
    "CANCEL_BOOKING",
    [
        (
            "system",
            "Classify the intent as one of: new_booking, change_booking, cancel_booking, baggage, other.",
        ),
        ("user", "Please cancel my trip"),
    ],
)
run(
    "intent-sentence",
    "behavior",
    "one-of",
    ["baggage"],
    "This is about baggage.",
    [
        (
            "system",
            "Classify the intent as one of: new_booking, change_booking, cancel_booking, baggage, other.",
        ),
        ("user", "My suitcase never arrived"),
    ],
)
run(
    "json-pnr",
    "skill",
    "json-match",
    {"pnr": "XK7T2Q", "passengers": 2},
    '{"pnr": "XK7T2Q", "passengers": 1}',
    [("system", "Extract JSON with pnr and passengers."), ("user", "Booking XK7T2Q for me and my wife")],
)
run(
    "json-pnr-fenced",
    "behavior",
    "is-json",
    None,
    '```json\n{"pnr": "XK7T2Q"}\n```\nLet me know!',
    [("system", "Extract JSON with pnr."), ("user", "Booking XK7T2Q")],
)
run(
    "json-loyalty",
    "knowledge",
    "json-match",
    {"status": "Platinum"},
    '{"status": "Silver"}',
    [
        ("system", "Extract JSON with pnr and the traveller's loyalty status."),
        ("user", "Booking XK7T2Q, frequent flyer 88231"),
    ],
)
run(
    "tone-signoff",
    "behavior",
    "contains",
    "Safe travels!",
    "Thanks for flying with us.",
    [("system", "Always end your reply with 'Safe travels!'"), ("user", "Thanks for the upgrade")],
)
run("words", "behavior", "word-count", None, "a " * 200, [("user", "Summarise")], max=50)
run(
    "no-apology-neg",
    "behavior",
    "not-icontains",
    "unfortunately",
    "Unfortunately the flight is full.",
    [("user", "Is there space?")],
)
run(
    "lounge-name",
    "knowledge",
    "icontains",
    "Northern Lights Lounge",
    "You can relax in the Skyview Lounge.",
    [("user", "What is the lounge at Keflavik called?")],
)
run(
    "lounge-grounded",
    "skill",
    "icontains",
    "Gold",
    "Lounge access is included with every ticket.",
    [("system", S_TRAVEL + "\n" + FARE), ("user", "Who gets lounge access?")],
)
run(
    "reliab",
    "reliability",
    "equals",
    "baggage",
    [("other", 2)],
    [
        (
            "system",
            "Classify the intent as one of: new_booking, change_booking, cancel_booking, baggage, other.",
        ),
        ("user", "Lost bag"),
    ],
    passed=3,
)
run(
    "spread-skill",
    "skill",
    "equals",
    "baggage",
    [("other", 3), ("new_booking", 2)],
    [
        (
            "system",
            "Classify the intent as one of: new_booking, change_booking, cancel_booking, baggage, other.",
        ),
        ("user", "Lost bag"),
    ],
)
run("price-format", "behavior", "contains", "€1,250", "The total is 1250 EUR.", [("user", "Total for two?")])
run(
    "hours-private",
    "knowledge",
    "icontains",
    "24 hours",
    "You can check in online 48 hours before departure.",
    [("user", "When does online check-in open?")],
)
run(
    "hours-grounded",
    "skill",
    "icontains",
    "24 hours",
    "Online check-in opens 48 hours before departure.",
    [
        ("system", "Online check-in opens 24 hours before departure and closes 1 hour before."),
        ("user", "When does online check-in open?"),
    ],
)
run(
    "name-grounded",
    "skill",
    "contains",
    "Ingrid Larsen",
    "The passenger is Ingrid Jensen.",
    [("system", "Extract the passenger's full name."), ("user", "Ticket for Ingrid Larsen, seat 12A")],
)
run(
    "url",
    "knowledge",
    "contains",
    "aurora-air.example/claims",
    "Visit our website to file a claim.",
    [("user", "Where do I file a delay claim?")],
)
run(
    "phrase-fact",
    "knowledge",
    "icontains",
    "non-refundable",
    "Basic fares can be refunded within 24 hours.",
    [("user", "Can I get a refund on a Basic fare?")],
)
run(
    "phrase-grounded",
    "skill",
    "icontains",
    "one personal item",
    "Basic fares include a cabin bag and a personal item.",
    [("system", S_TRAVEL + "\n" + FARE), ("user", "What can I bring on a Basic fare?")],
)
run(
    "golden-wording",
    "behavior",
    "golden",
    "Your flight AU204 departs at 09:40 from gate B12.",
    "AU204 leaves 09:40, gate B12.",
    [("user", "When and where does AU204 leave?")],
)
run(
    "golden-value",
    "knowledge",
    "golden",
    "Your flight AU204 departs at 09:40 from gate B12.",
    "Your flight AU204 departs at 10:15 from gate C3.",
    [("user", "When and where does AU204 leave?")],
)
run("starts-json", "behavior", "starts-with", "{", 'Sure: {"a":1}', [("user", "json please")])
run(
    "json-schema-missing",
    "behavior",
    "json-schema",
    {"type": "object", "required": ["pnr", "name"]},
    '{"pnr": "XK7T2Q"}',
    [("system", "Return JSON with pnr and name."), ("user", "XK7T2Q for Ana Silva")],
)
run(
    "contains-all",
    "skill",
    "icontains-all",
    ["Oslo", "Bergen"],
    "Your trip goes to Oslo.",
    [("user", "Itinerary: Oslo then Bergen. Summarise the stops.")],
)
run(
    "number-words-grounded",
    "behavior",
    "contains",
    "3",
    "You have three stops.",
    [("user", "How many stops? Oslo, Bergen, Tromsø")],
)
