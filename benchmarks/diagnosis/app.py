"""The labelled application behind the diagnosis benchmark: Larkspur Outfitters' support desk.

An outdoor-gear shop with seven prompts, written as a team would write them: ticket routing,
order extraction as JSON, product and policy answers (some with the policy excerpt a retrieval
step supplies, some without), customer replies in house style, an internal HR policy bot,
sentiment tagging, and routing sampled at a higher temperature.

Every case has a passing answer (``good``), the candidate model's answer (``cand``: one text, or
one per sample), and optionally the baseline model's answer when it fails too (``base``). ``truth``
is the gap by the definitions of docs/escalation.md, decided by reading the case, not by running
promptops: knowledge (a fact the prompt does not hold is missing or different, or the model
refuses), behavior (the content is right and the form wrong, or an instruction or house style is
not followed), skill (a wrong label, field or value although the input holds what is needed),
reliability (some samples pass, some fail). No case carries a ``gap:`` hint, and the assertion
types are the ones a user would reach for, often not the ones that name the gap.
"""

from __future__ import annotations

PROMPTS = {
    "support/triage.j2": """\
---
version: 1.0.0
description: Route a customer email to one queue
params: {max_tokens: 8}
inputs:
  email: {required: true}
---
{% role "system" %}
You route customer emails for Larkspur Outfitters, an outdoor gear shop.
Answer with exactly one label from: refund, shipping, account, product-question, complaint.
{% endrole %}
{% role "user" %}{{ email }}{% endrole %}
""",
    "support/extract.j2": """\
---
version: 1.0.0
description: Pull order details out of a customer message
params: {max_tokens: 120}
inputs:
  message: {required: true}
---
{% role "system" %}
Extract the order details from the customer's message as a JSON object with the keys
order_id, item, quantity, total (a number, no currency sign) and delivery_date (YYYY-MM-DD).
Output only the JSON object.
{% endrole %}
{% role "user" %}{{ message }}{% endrole %}
""",
    "support/faq.j2": """\
---
version: 1.0.0
description: Answer a shopper's question about products and store policy
params: {max_tokens: 80}
inputs:
  question: {required: true}
  policy: {default: ""}
---
{% role "system" %}
You are the help assistant of Larkspur Outfitters. Answer in one or two sentences.
{% if policy %}
Store policy:
{{ policy }}
{% endif %}
{% endrole %}
{% role "user" %}{{ question }}{% endrole %}
""",
    "support/reply.j2": """\
---
version: 1.0.0
description: Draft a reply to a customer in the house style
params: {max_tokens: 160}
inputs:
  name: {required: true}
  message: {required: true}
---
{% role "system" %}
Write a reply to the customer's message for Larkspur Outfitters.
Start with "Hi {{ name }},". End with "— The Larkspur team".
Keep it under 80 words. Never mention other shops.
{% endrole %}
{% role "user" %}{{ message }}{% endrole %}
""",
    "hr/leave.j2": """\
---
version: 1.0.0
description: Answer employees' leave questions from the handbook excerpt
params: {max_tokens: 80}
inputs:
  question: {required: true}
  policy: {required: true}
---
{% role "system" %}
You answer Larkspur employees' questions about leave. Use this handbook excerpt:
{{ policy }}
{% endrole %}
{% role "user" %}{{ question }}{% endrole %}
""",
    "support/sentiment.j2": """\
---
version: 1.0.0
description: Tag a review with its sentiment and whether it needs a quick answer
params: {max_tokens: 40}
inputs:
  review: {required: true}
---
{% role "system" %}
Read the product review. Reply with JSON: {"sentiment": "positive" | "neutral" | "negative", "urgent": true | false}.
A review is urgent when the customer reports a safety problem or asks for an answer.
{% endrole %}
{% role "user" %}{{ review }}{% endrole %}
""",
}

# a prompt change between two versions, for the pull-request part of the benchmark
PROMPTS_V2 = {
    "support/triage.j2": PROMPTS["support/triage.j2"]
    .replace("version: 1.0.0", "version: 1.1.0")
    .replace(
        "Answer with exactly one label from: refund, shipping, account, product-question, complaint.",
        "Tell us what the email is about.",
    ),
    "support/faq.j2": PROMPTS["support/faq.j2"]
    .replace("version: 1.0.0", "version: 1.1.0")
    .replace("{{ policy }}", "{{ policy | truncate(40) }}"),
    "support/extract.j2": PROMPTS["support/extract.j2"]
    .replace("version: 1.0.0", "version: 1.1.0")
    .replace("{{ message }}", "{{ message | truncate(30) }}"),
}

SUITES = {
    "triage": {"prompt": "support/triage", "description": "Routing labels"},
    "extract": {"prompt": "support/extract", "description": "Order fields as JSON"},
    "faq": {"prompt": "support/faq", "description": "Product and policy answers"},
    "reply": {"prompt": "support/reply", "description": "Replies in the house style"},
    "leave": {"prompt": "hr/leave", "description": "HR leave policy answers"},
    "sentiment": {"prompt": "support/sentiment", "description": "Review tags"},
    "triage-sampled": {
        "prompt": "support/triage",
        "description": "Routing at the temperature production uses",
        "repeat": 5,
        "threshold": 0.8,
        "params": {"temperature": 0.8, "seed": 11},
    },
}

RETURNS = (
    "Returns: unused items can be returned within 45 days of delivery for a full refund. "
    "Worn footwear can be returned within 14 days. Refunds reach the original card in 3-5 business days."
)
SHIPPING = (
    "Shipping: orders over $75 ship free. Standard delivery takes 4-6 business days; express "
    "delivery costs $12.50 and takes 2 business days. We ship from Boise, Idaho."
)
WARRANTY = (
    "Warranty: tents and packs carry a lifetime warranty against manufacturing defects; stoves carry 2 years."
)
LEAVE = (
    "Annual leave: full-time staff get 25 days a year. Up to 5 unused days can be carried into the next year. "
    "Parental leave: 16 weeks at full pay. Sick leave needs a doctor's note after 3 consecutive days. "
    "Leave requests go to your manager in Workday at least 2 weeks ahead."
)

# Each case: suite, id, vars, assert, good (passing answer), cand (candidate answer; a list = one per
# sample), base (baseline answer when it fails too), truth gap, grounded (the expected content is in
# the rendered prompt), and for prompt-drift cases the answer each prompt version gets.
CASES: list[dict] = [
    # --- triage: labels listed in the prompt --------------------------------------------------
    {
        "suite": "triage",
        "id": "double-charge",
        "vars": {"email": "You billed my card twice for the same headlamp, I want the extra charge back."},
        "assert": [{"type": "equals", "value": "refund"}],
        "good": "refund",
        "cand": "Refund.",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "triage",
        "id": "where-is-parcel",
        "vars": {"email": "My parcel was supposed to arrive Tuesday and tracking hasn't moved in a week."},
        "assert": [{"type": "equals", "value": "shipping"}],
        "good": "shipping",
        "cand": "Label: shipping",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "triage",
        "id": "password-loop",
        "vars": {
            "email": "The reset link keeps sending me back to the login page, I can't get into my profile."
        },
        "assert": [{"type": "equals", "value": "account"}],
        "good": "account",
        "cand": "complaint",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "triage",
        "id": "tent-size",
        "vars": {"email": "Does the Ridgeline 2 tent fit two adults and their packs?"},
        "assert": [{"type": "icontains", "value": "product-question"}],
        "good": "product-question",
        "cand": "shipping",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "triage",
        "id": "rude-staff",
        "vars": {"email": "The person at your Portland pop-up was incredibly rude to my kids."},
        "assert": [{"type": "one-of", "value": ["complaint"]}],
        "good": "complaint",
        "cand": "This email is a complaint about staff behaviour.",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "triage",
        "id": "return-boots",
        "vars": {"email": "The boots pinch, can I send them back and get my money?"},
        "assert": [{"type": "regex", "value": "^(refund)$"}],
        "good": "refund",
        "cand": "product-question",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "triage",
        "id": "broken-zip",
        "vars": {"email": "Zip on my new jacket broke on day two. Not happy at all."},
        "assert": [{"type": "equals", "value": "complaint"}],
        "good": "complaint",
        "cand": "```\ncomplaint\n```",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "triage",
        "id": "change-email",
        "vars": {"email": "How do I change the e-mail address on my Larkspur profile?"},
        "assert": [{"type": "equals", "value": "account"}],
        "good": "account",
        "cand": "ACCOUNT",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "triage",
        "id": "customs-fee",
        "vars": {"email": "Why did the courier charge me a customs fee on delivery to Canada?"},
        "assert": [{"type": "equals", "value": "shipping"}],
        "good": "shipping",
        "cand": "refund",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "triage",
        "id": "stove-fuel",
        "vars": {"email": "Which fuel canisters work with the Ember stove?"},
        "assert": [{"type": "starts-with", "value": "product-question"}],
        "good": "product-question",
        "cand": "account",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "triage",
        "id": "late-refund",
        "vars": {"email": "I returned the sleeping bag three weeks ago and still no money on my card."},
        "assert": [{"type": "equals", "value": "refund"}],
        "good": "refund",
        "cand": "The customer wants a refund.",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "triage",
        "id": "wrong-colour",
        "vars": {"email": "You sent the fleece in orange, I ordered navy. Please sort it out."},
        "assert": [{"type": "icontains-any", "value": ["complaint", "shipping"]}],
        "good": "shipping",
        "cand": "account",
        "truth": "skill",
        "grounded": True,
    },
    # --- extract: JSON fields from the message ----------------------------------------------------
    {
        "suite": "extract",
        "id": "simple-order",
        "vars": {"message": "Order LK-20931: 2 x Trail Mug, total $31.80, should arrive 2025-06-14."},
        "assert": [{"type": "json-match", "value": {"order_id": "LK-20931", "quantity": 2, "total": 31.8}}],
        "good": '{"order_id": "LK-20931", "item": "Trail Mug", "quantity": 2, "total": 31.8, "delivery_date": "2025-06-14"}',
        "cand": 'Sure! Here are the details:\n```json\n{"order_id": "LK-20931", "item": "Trail Mug", "quantity": "2", "total": "31.80"}\n```',
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "extract",
        "id": "swapped-digits",
        "vars": {
            "message": "Hi, it's about order LK-55417, the Summit 40 pack (1 of them), $189.00, due 3 July 2025."
        },
        "assert": [{"type": "json-match", "value": {"order_id": "LK-55417", "total": 189}}],
        "good": '{"order_id": "LK-55417", "item": "Summit 40 pack", "quantity": 1, "total": 189, "delivery_date": "2025-07-03"}',
        "cand": '{"order_id": "LK-54517", "item": "Summit 40 pack", "quantity": 1, "total": 189, "delivery_date": "2025-07-03"}',
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "extract",
        "id": "date-format",
        "vars": {
            "message": "LK-77102 — three pairs of Wool Socks, 45 dollars in all, arriving August 9, 2025."
        },
        "assert": [{"type": "json-match", "value": {"delivery_date": "2025-08-09"}}],
        "good": '{"order_id": "LK-77102", "item": "Wool Socks", "quantity": 3, "total": 45, "delivery_date": "2025-08-09"}',
        "cand": '{"order_id": "LK-77102", "item": "Wool Socks", "quantity": 3, "total": 45, "delivery_date": "August 9, 2025"}',
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "extract",
        "id": "wrong-quantity",
        "vars": {
            "message": "I'd like to report order LK-31150: four Camp Chairs at $220 total, delivery 2025-05-30."
        },
        "assert": [{"type": "json-match", "value": {"quantity": 4}}],
        "good": '{"order_id": "LK-31150", "item": "Camp Chair", "quantity": 4, "total": 220, "delivery_date": "2025-05-30"}',
        "cand": '{"order_id": "LK-31150", "item": "Camp Chair", "quantity": 1, "total": 220, "delivery_date": "2025-05-30"}',
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "extract",
        "id": "prose-only",
        "vars": {"message": "Order LK-40012, one Ember stove, 64.99 total, expected 2025-09-02."},
        "assert": [{"type": "is-json"}],
        "good": '{"order_id": "LK-40012", "item": "Ember stove", "quantity": 1, "total": 64.99, "delivery_date": "2025-09-02"}',
        "cand": "The order LK-40012 is for one Ember stove costing 64.99, expected on 2025-09-02.",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "extract",
        "id": "missing-total",
        "vars": {"message": "Order LK-66001 for a Ridgeline 2 tent came to $349.50, delivery on 2025-10-11."},
        "assert": [{"type": "contains", "value": "349.5"}],
        "good": '{"order_id": "LK-66001", "item": "Ridgeline 2 tent", "quantity": 1, "total": 349.5, "delivery_date": "2025-10-11"}',
        "cand": '{"order_id": "LK-66001", "item": "Ridgeline 2 tent", "quantity": 1, "total": null, "delivery_date": "2025-10-11"}',
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "extract",
        "id": "item-name",
        "vars": {"message": "Re order LK-12877: 1 Alpine Down Jacket, 259.00 USD, arriving 2025-11-20."},
        "assert": [{"type": "icontains", "value": "Alpine Down Jacket"}],
        "good": '{"order_id": "LK-12877", "item": "Alpine Down Jacket", "quantity": 1, "total": 259, "delivery_date": "2025-11-20"}',
        "cand": '{"order_id": "LK-12877", "item": "Down Vest", "quantity": 1, "total": 259, "delivery_date": "2025-11-20"}',
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "extract",
        "id": "python-dict",
        "vars": {"message": "Order LK-90210, 2 Trekking Poles, $78.00, arrives 2025-04-18."},
        "assert": [
            {
                "type": "json-schema",
                "value": {
                    "type": "object",
                    "required": ["order_id", "total"],
                    "properties": {"total": {"type": "number"}},
                },
            }
        ],
        "good": '{"order_id": "LK-90210", "item": "Trekking Poles", "quantity": 2, "total": 78, "delivery_date": "2025-04-18"}',
        "cand": "{'order_id': 'LK-90210', 'item': 'Trekking Poles', 'quantity': 2, 'total': 78.0, 'delivery_date': '2025-04-18'}",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "extract",
        "id": "wrong-date",
        "vars": {
            "message": "My order LK-31009 (one Headlamp X2, $39.95) is due on 2025-12-01, can you confirm?"
        },
        "assert": [{"type": "contains", "value": "2025-12-01"}],
        "good": '{"order_id": "LK-31009", "item": "Headlamp X2", "quantity": 1, "total": 39.95, "delivery_date": "2025-12-01"}',
        "cand": '{"order_id": "LK-31009", "item": "Headlamp X2", "quantity": 1, "total": 39.95, "delivery_date": "2025-01-12"}',
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "extract",
        "id": "too-chatty",
        "vars": {"message": "Order LK-50505: one Rain Shell, $120, delivery 2025-03-03."},
        "assert": [{"type": "starts-with", "value": "{"}],
        "good": '{"order_id": "LK-50505", "item": "Rain Shell", "quantity": 1, "total": 120, "delivery_date": "2025-03-03"}',
        "cand": 'Here is the JSON: {"order_id": "LK-50505", "item": "Rain Shell", "quantity": 1, "total": 120, "delivery_date": "2025-03-03"}',
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "extract",
        "id": "customer-tier",
        "vars": {
            "message": "Order LK-80888: one Bivy Sack, $95, arriving 2025-07-21. What loyalty tier am I?"
        },
        "assert": [{"type": "json-match", "value": {"order_id": "LK-80888", "tier": "Summit Club"}}],
        "good": '{"order_id": "LK-80888", "item": "Bivy Sack", "quantity": 1, "total": 95, "delivery_date": "2025-07-21", "tier": "Summit Club"}',
        "cand": '{"order_id": "LK-80888", "item": "Bivy Sack", "quantity": 1, "total": 95, "delivery_date": "2025-07-21", "tier": "Gold"}',
        "truth": "knowledge",
        "grounded": False,
    },
    # --- faq without the policy: private facts ----------------------------------------------------
    {
        "suite": "faq",
        "id": "free-shipping-threshold",
        "vars": {"question": "From what order value is shipping free?"},
        "assert": [{"type": "icontains", "value": "$75"}],
        "good": "Orders over $75 ship free.",
        "cand": "Shipping is free on orders over $50.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "warehouse-city",
        "vars": {"question": "Which city do you ship from?"},
        "assert": [{"type": "equals", "value": "Boise"}],
        "good": "Boise",
        "cand": "We ship from Denver, Colorado.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "express-price",
        "vars": {"question": "How much is express delivery?"},
        "assert": [{"type": "regex", "value": "12\\.50"}],
        "good": "Express delivery costs $12.50.",
        "cand": "I'm not sure what express delivery costs; please check the website.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "stove-warranty",
        "vars": {"question": "How long is the warranty on the Ember stove?"},
        "assert": [{"type": "contains-any", "value": ["2 years", "two years"]}],
        "good": "The Ember stove has a 2 years warranty.",
        "cand": "The Ember stove comes with a 5-year warranty.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "loyalty-name",
        "vars": {"question": "What is your loyalty programme called?"},
        "assert": [{"type": "equals", "value": "Summit Club"}],
        "good": "Summit Club",
        "cand": "Our loyalty programme is called Larkspur Rewards.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "boot-return-window",
        "vars": {"question": "How many days do I have to return worn boots?"},
        "assert": [{"type": "contains", "value": "14"}],
        "good": "Worn footwear can be returned within 14 days.",
        "cand": "You can return worn boots within 30 days.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "founding-year",
        "vars": {"question": "When was Larkspur Outfitters founded?"},
        "assert": [{"type": "icontains", "value": "1987"}],
        "good": "Larkspur Outfitters was founded in 1987.",
        "cand": "I don't have information about when Larkspur was founded.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "support-email",
        "vars": {"question": "What address do I email for warranty claims?"},
        "assert": [{"type": "contains", "value": "claims@larkspur.example"}],
        "good": "Email claims@larkspur.example.",
        "cand": "Please email support@larkspur.com for warranty claims.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "price-match-code",
        "vars": {"question": "What's the promo code for the spring sale?"},
        "assert": [{"type": "equals", "value": "THAW25"}],
        "good": "THAW25",
        "cand": "SPRING20",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "store-hours",
        "vars": {"question": "What time does the Boise store open on Saturdays?"},
        "assert": [{"type": "icontains-any", "value": ["9 am", "9am", "9:00"]}],
        "good": "It opens at 9 am.",
        "cand": "The Boise store opens at 10:00 on Saturdays.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "sale-end",
        "vars": {"question": "Until when does the spring sale run?"},
        "assert": [{"type": "contains", "value": "April 30"}],
        "good": "It runs until April 30.",
        "cand": "The spring sale runs until May 15.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "ceo-name",
        "vars": {"question": "Who founded Larkspur?"},
        "assert": [{"type": "icontains", "value": "Dana Whitcomb"}],
        "good": "Dana Whitcomb founded Larkspur.",
        "cand": "Larkspur was founded by Michael Torres.",
        "truth": "knowledge",
        "grounded": False,
    },
    # --- faq with the policy excerpt: grounded facts ----------------------------------------------
    {
        "suite": "faq",
        "id": "return-window-grounded",
        "vars": {"question": "How long do I have to return an unused tent?", "policy": RETURNS},
        "assert": [{"type": "icontains", "value": "45 days"}],
        "good": "Within 45 days of delivery.",
        "cand": "You can return it within 30 days.",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "faq",
        "id": "refund-time-grounded",
        "vars": {"question": "How fast does a refund reach my card?", "policy": RETURNS},
        "assert": [{"type": "contains", "value": "3-5 business days"}],
        "good": "Refunds reach your card in 3-5 business days.",
        "cand": "I don't know how long refunds take.",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "faq",
        "id": "express-grounded",
        "vars": {"question": "What does express delivery cost?", "policy": SHIPPING},
        "assert": [{"type": "equals", "value": "$12.50"}],
        "good": "$12.50",
        "cand": "Express delivery costs $12.50 and takes 2 business days.",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "faq",
        "id": "free-threshold-grounded",
        "vars": {"question": "Is shipping free on a $60 order?", "policy": SHIPPING},
        "assert": [{"type": "icontains", "value": "$75"}],
        "good": "No, shipping is free over $75.",
        "cand": "Yes, shipping is free on all orders.",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "faq",
        "id": "warranty-grounded",
        "vars": {"question": "Is my pack covered if a seam fails after five years?", "policy": WARRANTY},
        "assert": [{"type": "icontains", "value": "lifetime"}],
        "good": "Yes, packs carry a lifetime warranty.",
        "cand": "No, the warranty only lasts 2 years.",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "faq",
        "id": "ship-from-grounded",
        "vars": {"question": "Where do orders ship from?", "policy": SHIPPING},
        "assert": [{"type": "equals", "value": "Boise, Idaho"}],
        "good": "Boise, Idaho",
        "cand": "boise, idaho.",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "faq",
        "id": "footwear-grounded",
        "vars": {"question": "Can I return trail runners I've worn once?", "policy": RETURNS},
        "assert": [{"type": "regex", "value": "\\b14\\b"}],
        "good": "Yes, within 14 days.",
        "cand": "Sorry, worn items cannot be returned.",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "faq",
        "id": "express-days-grounded",
        "vars": {"question": "How many business days does express take?", "policy": SHIPPING},
        "assert": [{"type": "icontains-any", "value": ["2 business days", "two business days"]}],
        "good": "Express takes 2 business days.",
        "cand": "Express takes 4-6 business days.",
        "truth": "skill",
        "grounded": True,
    },
    # --- reply: house style -----------------------------------------------------------------------
    {
        "suite": "reply",
        "id": "greeting-missing",
        "vars": {"name": "Priya", "message": "Can I swap my order to a larger size?"},
        "assert": [{"type": "starts-with", "value": "Hi Priya,"}],
        "good": "Hi Priya, yes, we can swap it for a larger size. — The Larkspur team",
        "cand": "Of course! We can swap it for a larger size. — The Larkspur team",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "reply",
        "id": "signoff-missing",
        "vars": {"name": "Jonas", "message": "Do you restock the Ridgeline 2 soon?"},
        "assert": [{"type": "contains", "value": "— The Larkspur team"}],
        "good": "Hi Jonas, it is back next week. — The Larkspur team",
        "cand": "Hi Jonas, it is back next week. Best, Larkspur",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "reply",
        "id": "too-long",
        "vars": {"name": "Mei", "message": "My tent pole snapped on the first trip."},
        "assert": [{"type": "word-count", "max": 80}],
        "good": "Hi Mei, sorry to hear that. We'll send a new pole. — The Larkspur team",
        "cand": "Hi Mei, "
        + "we are truly sorry to hear about the pole and we want to make this right for you, " * 6
        + "— The Larkspur team",
        "truth": "behavior",
        "grounded": None,
    },
    {
        "suite": "reply",
        "id": "competitor",
        "vars": {"name": "Sam", "message": "Is your down jacket warmer than the one at Summit Supply?"},
        "assert": [{"type": "not-icontains", "value": "Summit Supply"}],
        "good": "Hi Sam, our Alpine Down Jacket is rated to -15°C. — The Larkspur team",
        "cand": "Hi Sam, ours is warmer than the Summit Supply jacket. — The Larkspur team",
        "truth": "behavior",
        "grounded": None,
    },
    {
        "suite": "reply",
        "id": "greeting-lowercase",
        "vars": {"name": "Ana", "message": "Thanks for the quick delivery!"},
        "assert": [{"type": "starts-with", "value": "Hi Ana,"}],
        "good": "Hi Ana, thank you for the kind words! — The Larkspur team",
        "cand": "hi ana, thank you for the kind words! — The Larkspur team",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "reply",
        "id": "greeting-regex",
        "vars": {"name": "Tomás", "message": "Where can I find the size chart?"},
        "assert": [{"type": "regex", "value": "^Hi Tomás,"}],
        "good": "Hi Tomás, the size chart is on each product page. — The Larkspur team",
        "cand": "Hello! The size chart is on each product page. — The Larkspur team",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "reply",
        "id": "thanks-closing",
        "vars": {"name": "Lea", "message": "I left a review for the stove."},
        "assert": [{"type": "icontains", "value": "thank you"}],
        "good": "Hi Lea, thank you for the review! — The Larkspur team",
        "cand": "Hi Lea, we saw your review of the stove. — The Larkspur team",
        "truth": "behavior",
        "grounded": False,
    },
    {
        "suite": "reply",
        "id": "fenced-reply",
        "vars": {"name": "Omar", "message": "Can I pick up my order in store?"},
        "assert": [{"type": "starts-with", "value": "Hi Omar,"}],
        "good": "Hi Omar, yes, choose store pickup at checkout. — The Larkspur team",
        "cand": "```\nHi Omar, yes, choose store pickup at checkout. — The Larkspur team\n```",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "reply",
        "id": "apology",
        "vars": {"name": "Grace", "message": "My order arrived damaged."},
        "assert": [{"type": "icontains-any", "value": ["sorry", "apologise", "apologize"]}],
        "good": "Hi Grace, we're sorry it arrived damaged; a replacement is on its way. — The Larkspur team",
        "cand": "Hi Grace, a replacement is on its way. — The Larkspur team",
        "truth": "behavior",
        "grounded": False,
    },
    {
        "suite": "reply",
        "id": "length-chars",
        "vars": {"name": "Ike", "message": "Do you sell gift cards?"},
        "assert": [{"type": "length", "max": 300}],
        "good": "Hi Ike, yes, in any amount from $10. — The Larkspur team",
        "cand": "Hi Ike, "
        + "yes we do sell gift cards and they are a wonderful present for every outdoor lover you know. " * 5
        + "— The Larkspur team",
        "truth": "behavior",
        "grounded": None,
    },
    # --- leave: handbook excerpt always in the prompt ---------------------------------------------
    {
        "suite": "leave",
        "id": "carry-over",
        "vars": {"question": "How many unused days can I carry into next year?", "policy": LEAVE},
        "assert": [{"type": "icontains", "value": "5 days"}],
        "good": "Up to 5 days.",
        "cand": "You can carry over all your unused days.",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "leave",
        "id": "annual-days",
        "vars": {"question": "How much annual leave do full-timers get?", "policy": LEAVE},
        "assert": [{"type": "equals", "value": "25 days"}],
        "good": "25 days",
        "cand": "20 days",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "leave",
        "id": "parental",
        "vars": {"question": "How long is parental leave?", "policy": LEAVE},
        "assert": [{"type": "contains", "value": "16 weeks"}],
        "good": "Parental leave is 16 weeks at full pay.",
        "cand": "Parental leave is sixteen weeks at full pay.",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "leave",
        "id": "sick-note",
        "vars": {"question": "After how many sick days do I need a doctor's note?", "policy": LEAVE},
        "assert": [{"type": "regex", "value": "\\b3\\b"}],
        "good": "After 3 consecutive days.",
        "cand": "You need a note from the first day of sick leave.",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "leave",
        "id": "request-tool",
        "vars": {"question": "Where do I submit a leave request?", "policy": LEAVE},
        "assert": [{"type": "icontains", "value": "Workday"}],
        "good": "In Workday, to your manager.",
        "cand": "I'm not sure which system is used for leave requests.",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "leave",
        "id": "notice-period",
        "vars": {"question": "How far ahead must I ask for leave?", "policy": LEAVE},
        "assert": [{"type": "icontains", "value": "2 weeks"}],
        "good": "At least 2 weeks ahead.",
        "cand": "At least 1 month ahead.",
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "leave",
        "id": "bereavement",
        "vars": {"question": "How many days of bereavement leave do we get?", "policy": LEAVE},
        "assert": [{"type": "icontains", "value": "3 days"}],
        "good": "3 days.",
        "cand": "You get 10 days of bereavement leave.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "leave",
        "id": "sabbatical",
        "vars": {"question": "After how many years can I take a sabbatical?", "policy": LEAVE},
        "assert": [{"type": "equals", "value": "7 years"}],
        "good": "7 years",
        "cand": "I don't have information about sabbaticals.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "leave",
        "id": "annual-prose",
        "vars": {"question": "Days of annual leave, just the number please", "policy": LEAVE},
        "assert": [{"type": "equals", "value": "25"}],
        "good": "25",
        "cand": "Full-time staff get 25 days a year.",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "leave",
        "id": "hr-contact",
        "vars": {"question": "Who is the HR business partner for the warehouse?", "policy": LEAVE},
        "assert": [{"type": "icontains", "value": "Rosa Delgado"}],
        "good": "Rosa Delgado.",
        "cand": "The HR partner for the warehouse is Mark Olsen.",
        "truth": "knowledge",
        "grounded": False,
    },
    # --- sentiment: JSON labels -----------------------------------------------------------------
    {
        "suite": "sentiment",
        "id": "happy-review",
        "vars": {"review": "Best sleeping bag I've owned, warm and light."},
        "assert": [{"type": "json-match", "value": {"sentiment": "positive", "urgent": False}}],
        "good": '{"sentiment": "positive", "urgent": false}',
        "cand": '{"sentiment": "Positive", "urgent": "false"}',
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "sentiment",
        "id": "safety-issue",
        "vars": {"review": "The stove flared up and singed my sleeve. This is dangerous."},
        "assert": [{"type": "json-match", "value": {"sentiment": "negative", "urgent": True}}],
        "good": '{"sentiment": "negative", "urgent": true}',
        "cand": '{"sentiment": "negative", "urgent": false}',
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "sentiment",
        "id": "meh-review",
        "vars": {"review": "It's a tent. Does the job, nothing special."},
        "assert": [{"type": "contains", "value": "neutral"}],
        "good": '{"sentiment": "neutral", "urgent": false}',
        "cand": '{"sentiment": "negative", "urgent": false}',
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "sentiment",
        "id": "question-review",
        "vars": {"review": "Love the jacket, but does it come in a tall size? Please let me know."},
        "assert": [{"type": "json-match", "value": {"urgent": True}}],
        "good": '{"sentiment": "positive", "urgent": true}',
        "cand": "Sentiment: positive. Urgent: yes, the customer asks a question.",
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "sentiment",
        "id": "angry-review",
        "vars": {"review": "Straps tore on day one. Waste of money."},
        "assert": [{"type": "equals", "value": {"sentiment": "negative", "urgent": False}}],
        "good": '{"sentiment": "negative", "urgent": false}',
        "cand": '{"sentiment": "positive", "urgent": false}',
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "sentiment",
        "id": "wrapped-json",
        "vars": {"review": "Fine mug, keeps coffee hot."},
        "assert": [{"type": "is-json", "value": {"type": "object", "required": ["sentiment"]}}],
        "good": '{"sentiment": "positive", "urgent": false}',
        "cand": 'Result: {"sentiment": "positive", "urgent": false}',
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "sentiment",
        "id": "trailing-comma",
        "vars": {"review": "Poles are flimsy, bent on the first hike."},
        "assert": [{"type": "json-match", "value": {"sentiment": "negative"}}],
        "good": '{"sentiment": "negative", "urgent": false}',
        "cand": '{"sentiment": "negative", "urgent": false,',
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "sentiment",
        "id": "mixed-review",
        "vars": {"review": "Great boots but the laces snapped. Would I buy again? Probably not."},
        "assert": [{"type": "icontains", "value": '"negative"'}],
        "good": '{"sentiment": "negative", "urgent": false}',
        "cand": '{"sentiment": "neutral", "urgent": false}',
        "truth": "skill",
        "grounded": True,
    },
    # --- triage sampled at temperature 0.8: reliability, or a stable wrong answer ----------------
    {
        "suite": "triage-sampled",
        "id": "refund-flip",
        "vars": {"email": "Charged for a tent I never received, please refund me."},
        "assert": [{"type": "equals", "value": "refund"}],
        "good": "refund",
        "cand": ["refund", "shipping", "refund", "refund", "shipping"],
        "truth": "reliability",
        "grounded": True,
    },
    {
        "suite": "triage-sampled",
        "id": "account-flip",
        "vars": {"email": "I can't log in since I changed my phone number."},
        "assert": [{"type": "equals", "value": "account"}],
        "good": "account",
        "cand": ["account", "complaint", "account", "complaint", "complaint"],
        "truth": "reliability",
        "grounded": True,
    },
    {
        "suite": "triage-sampled",
        "id": "shipping-flip",
        "vars": {"email": "Is there a way to speed up delivery of order LK-11111?"},
        "assert": [{"type": "icontains", "value": "shipping"}],
        "good": "shipping",
        "cand": ["shipping", "shipping", "product-question", "shipping", "refund"],
        "truth": "reliability",
        "grounded": True,
    },
    {
        "suite": "triage-sampled",
        "id": "question-flip",
        "vars": {"email": "Is the Summit 40 pack carry-on size?"},
        "assert": [{"type": "one-of", "value": ["product-question"]}],
        "good": "product-question",
        "cand": ["product-question", "shipping", "shipping", "product-question", "product-question"],
        "truth": "reliability",
        "grounded": True,
    },
    {
        "suite": "triage-sampled",
        "id": "complaint-flip",
        "vars": {"email": "Third time my order is late. Fed up."},
        "assert": [{"type": "regex", "value": "complaint|shipping"}],
        "good": "complaint",
        "cand": ["complaint", "refund", "account", "complaint", "complaint"],
        "truth": "reliability",
        "grounded": True,
    },
    {
        "suite": "triage-sampled",
        "id": "refund-format-flip",
        "vars": {"email": "Want my money back for the broken lantern."},
        "assert": [{"type": "equals", "value": "refund"}],
        "good": "refund",
        "cand": ["refund", "Refund.", "refund", "Refund.", "Refund."],
        "truth": "reliability",
        "grounded": True,
    },
    {
        "suite": "triage-sampled",
        "id": "never-right",
        "vars": {"email": "My discount code didn't apply at checkout and I paid full price."},
        "assert": [{"type": "equals", "value": "refund"}],
        "good": "refund",
        "cand": ["account", "complaint", "account", "shipping", "account"],
        "truth": "skill",
        "grounded": True,
    },
    {
        "suite": "triage-sampled",
        "id": "never-formatted",
        "vars": {"email": "Where's my order? It's been ten days."},
        "assert": [{"type": "equals", "value": "shipping"}],
        "good": "shipping",
        "cand": ["Shipping.", "Label: shipping", "Shipping.", "shipping.", "Shipping."],
        "truth": "behavior",
        "grounded": True,
    },
    {
        "suite": "triage-sampled",
        "id": "email-flip",
        "vars": {"email": "Please update my newsletter preferences."},
        "assert": [{"type": "equals", "value": "account"}],
        "good": "account",
        "cand": ["account", "account", "account", "product-question", "account"],
        "truth": "reliability",
        "grounded": True,
        "note": "4 of 5 at threshold 0.8 passes; kept as a control that is not counted",
    },
    {
        "suite": "triage-sampled",
        "id": "pack-flip",
        "vars": {"email": "Do the Trail Mugs come in a set of four?"},
        "assert": [{"type": "equals", "value": "product-question"}],
        "good": "product-question",
        "cand": ["complaint", "product-question", "complaint", "product-question", "complaint"],
        "truth": "reliability",
        "grounded": True,
    },
    {
        "suite": "triage-sampled",
        "id": "never-labelled",
        "vars": {"email": "The app logs me out every five minutes."},
        "assert": [{"type": "equals", "value": "account"}],
        "good": "account",
        "cand": [
            "I'm not sure which queue this belongs to.",
            "complaint",
            "I'm not sure which queue this belongs to.",
            "complaint",
            "complaint",
        ],
        "truth": "skill",
        "grounded": True,
    },
]

# Cases where the baseline model fails as well: already failing before the model change.
ALREADY_FAILING = {
    ("faq", "founding-year"): "I don't know when it was founded.",
    ("faq", "ceo-name"): "It was founded by a group of climbers.",
    (
        "extract",
        "customer-tier",
    ): '{"order_id": "LK-80888", "item": "Bivy Sack", "quantity": 1, "total": 95, "delivery_date": "2025-07-21", "tier": "Silver"}',
    ("leave", "sabbatical"): "Sabbaticals are not covered here.",
    ("triage", "password-loop"): "complaint",
    ("reply", "too-long"): "Hi Mei, " + "we are sorry and will fix it, " * 20 + "— The Larkspur team",
}

# Pull-request cases: the same model before and after a prompt change (PROMPTS_V2). The answer
# depends on what the rendered prompt says, as a real model's would.
PR_CASES: list[dict] = [
    {
        "suite": "triage",
        "id": "pr-refund",
        "vars": {"email": "Card charged but the order was cancelled, I need the money back."},
        "assert": [{"type": "equals", "value": "refund"}],
        "when": "exactly one label",
        "then": "refund",
        "otherwise": "This email is about a refund for a cancelled order.",
        "truth": "behavior",
        "grounded": False,
    },
    {
        "suite": "triage",
        "id": "pr-shipping",
        "vars": {"email": "Courier left my box in the rain, is it insured in transit?"},
        "assert": [{"type": "icontains", "value": "shipping"}],
        "when": "exactly one label",
        "then": "shipping",
        "otherwise": "The customer is asking whether a wet delivery is insured.",
        "truth": "behavior",
        "grounded": False,
    },
    {
        "suite": "triage",
        "id": "pr-account",
        "vars": {"email": "Two-factor codes never arrive on my phone."},
        "assert": [{"type": "one-of", "value": ["account"]}],
        "when": "exactly one label",
        "then": "account",
        "otherwise": "Login trouble with two-factor codes.",
        "truth": "behavior",
        "grounded": False,
    },
    {
        "suite": "triage",
        "id": "pr-complaint",
        "vars": {"email": "Your packaging is wasteful and I'm disappointed."},
        "assert": [{"type": "equals", "value": "complaint"}],
        "when": "exactly one label",
        "then": "complaint",
        "otherwise": "feedback",
        "truth": "behavior",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "pr-worn-returns",
        "vars": {"question": "Can I still return boots I wore outside last week?", "policy": RETURNS},
        "assert": [{"type": "contains", "value": "14 days"}],
        "when": "within 14 days",
        "then": "Yes, worn footwear can be returned within 14 days.",
        "otherwise": "Worn items can be returned within 45 days.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "pr-refund-speed",
        "vars": {"question": "When will my refund show up?", "policy": RETURNS},
        "assert": [{"type": "icontains", "value": "3-5 business days"}],
        "when": "3-5 business days",
        "then": "Refunds reach your card in 3-5 business days.",
        "otherwise": "I'm not sure how long refunds take.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "faq",
        "id": "pr-express",
        "vars": {"question": "How much is express?", "policy": SHIPPING},
        "assert": [{"type": "contains", "value": "12.50"}],
        "when": "$12.50",
        "then": "Express costs $12.50.",
        "otherwise": "Express delivery costs $15.",
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "extract",
        "id": "pr-order-id",
        "vars": {"message": "Total $88.00 for 2 Camp Lanterns, arriving 2025-08-30, order LK-70707."},
        "assert": [{"type": "json-match", "value": {"order_id": "LK-70707"}}],
        "when": "LK-70707",
        "then": '{"order_id": "LK-70707", "item": "Camp Lantern", "quantity": 2, "total": 88, "delivery_date": "2025-08-30"}',
        "otherwise": '{"order_id": null, "item": "Camp Lantern", "quantity": 2, "total": 88, "delivery_date": null}',
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "extract",
        "id": "pr-delivery",
        "vars": {"message": "One Ridgeline 2 tent for $349.50 under LK-60606, delivered 2025-10-02."},
        "assert": [{"type": "contains", "value": "2025-10-02"}],
        "when": "2025-10-02",
        "then": '{"order_id": "LK-60606", "item": "Ridgeline 2 tent", "quantity": 1, "total": 349.5, "delivery_date": "2025-10-02"}',
        "otherwise": '{"order_id": "LK-60606", "item": "Ridgeline 2 tent", "quantity": 1, "total": 349.5, "delivery_date": "2025-10-05"}',
        "truth": "knowledge",
        "grounded": False,
    },
    {
        "suite": "extract",
        "id": "pr-unchanged",
        "vars": {"message": "LK-10101"},
        "assert": [{"type": "json-match", "value": {"order_id": "LK-10101"}}],
        "when": "LK-10101",
        "then": '{"order_id": "LK-10101"}',
        "otherwise": '{"order_id": "LK-10101"}',
        "truth": None,
        "grounded": True,
        "note": "a control that passes on both versions",
    },
]
