"""Ticket subjects and bodies that read like the real thing, built from templates."""

from __future__ import annotations

import numpy as np

__all__ = ["ticket_texts"]

_TEMPLATES: dict[str, list[tuple[str, str, str]]] = {
    "Service Desk": [
        (
            "access",
            "Password reset for {user}",
            "Hi, {user} is locked out of {app} after too many attempts. Please reset the password, they have a customer call at {time}.",
        ),
        (
            "access",
            "New starter needs accounts",
            "We have a new colleague starting on {day} in {site}. Please create email, {app} and VPN accounts.",
        ),
        (
            "how-to",
            "How do I export a report from {app}?",
            "I need the weekly {report} report as Excel for the {day} review but the export button is greyed out.",
        ),
    ],
    "Network": [
        (
            "connectivity",
            "VPN keeps dropping in {site}",
            "Since {day} the VPN disconnects every few minutes for everyone at {site}. Error {code} in the client log.",
        ),
        (
            "connectivity",
            "Wi-Fi down in {site} warehouse",
            "Handheld scanners in {site} cannot reach the network; pickers are writing orders on paper. Started around {time}.",
        ),
        (
            "performance",
            "{app} very slow from {site}",
            "Pages in {app} take 30+ seconds to load from {site} only. Other sites look fine. Ticket raised by {user}.",
        ),
    ],
    "Billing": [
        (
            "invoice",
            "Invoice {invoice} amount is wrong",
            "Customer {customer} says invoice {invoice} charges for {qty} units but they received {qty2}. Please issue a credit note.",
        ),
        (
            "invoice",
            "Duplicate invoice {invoice}",
            "{customer} was invoiced twice for the same order. They want one of the invoices cancelled before the payment run on {day}.",
        ),
        (
            "payment",
            "Payment not matched for {customer}",
            "{customer} paid {amount} EUR on {day} with reference {invoice} but the account still shows it as open.",
        ),
    ],
    "Applications": [
        (
            "bug",
            "{app} error {code} when saving order",
            "Saving a sales order in {app} fails with error {code} for orders with more than {qty} lines. Reproducible every time.",
        ),
        (
            "bug",
            "Report totals wrong in {app}",
            "The {report} report in {app} shows totals that do not match the line items since the last update.",
        ),
        (
            "change",
            "Add field to {app} order screen",
            "Sales asks for a 'requested delivery date' field on the order screen in {app}, needed before {day}.",
        ),
    ],
    "Hardware": [
        (
            "device",
            "Label printer jams in {site}",
            "The label printer on line 2 in {site} jams every ~20 labels. We already replaced the roll. Model ZT-{qty}.",
        ),
        (
            "device",
            "Laptop will not boot for {user}",
            "{user}'s laptop shows a black screen after the logo since {day}. Needs to work for the audit on Friday.",
        ),
        (
            "device",
            "Scanner battery dead",
            "Handheld scanner SC-{qty} in {site} does not hold charge for more than an hour.",
        ),
    ],
}
# How each queue answered each kind of ticket (by the resolving queue): the past replies a
# reviewer's suggested reply is drawn from.
_REPLIES: dict[str, list[str]] = {
    "Service Desk": [
        "Hi {user}, the {app} password is reset and the account unlocked. The temporary password was sent by SMS; "
        "you will be asked to change it at the first login.",
        "Hello, the accounts for the new colleague in {site} (email, {app} and VPN) are ready. Credentials go to "
        "their manager on {day} morning.",
        "Hi, the export needs the 'Report export' role in {app}; we have added it. Log out and back in and the "
        "button is active.",
    ],
    "Network": [
        "Hi, the VPN gateway for {site} had a failing tunnel; we moved the site to the backup gateway. "
        "Please tell us if it drops again.",
        "The access point serving the {site} warehouse had lost power; it is back and the scanners reconnect. "
        "Orders written on paper can be keyed in now.",
        "We found a saturated link between {site} and the data centre and raised its bandwidth. {app} should "
        "load normally again.",
    ],
    "Billing": [
        "Dear {customer}, we have issued a credit note for the difference on invoice {invoice}. It will be "
        "settled against your next payment.",
        "Dear {customer}, the duplicate of invoice {invoice} is cancelled; only one will be collected in the "
        "payment run on {day}.",
        "Dear {customer}, your payment of {amount} EUR is now matched to invoice {invoice} and the account "
        "shows it as paid.",
    ],
    "Applications": [
        "Hi, error {code} in {app} came from a limit on order lines; the fix is deployed and orders of any "
        "length save again.",
        "The {report} report in {app} summed a cancelled-lines column after the update; it is corrected and "
        "the totals match again.",
        "The 'requested delivery date' field is added to the {app} order screen in the test system; it goes "
        "live after your sign-off.",
    ],
    "Hardware": [
        "Hi, the label printer in {site} had a worn platen roller; the technician replaced it and it prints "
        "without jams again.",
        "Hi {user}, the laptop's disk failed; a replacement laptop with your files restored is ready at the "
        "{site} service point.",
        "The scanner's battery is replaced; the old one is recycled. A spare battery is in the charging "
        "station in {site}.",
    ],
}
_FILL = {
    "user": ["A. Jansen", "M. Rossi", "K. Novak", "S. Okafor", "L. Martin", "P. Schmidt", "R. Silva", "J. Kim"],
    "app": ["SAP", "the WMS", "Salesforce", "the customer portal", "Power BI", "the TMS"],
    "site": ["Rotterdam", "Lyon", "Leipzig", "Milan", "Gdansk", "Porto"],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the 1st", "the 15th"],
    "time": ["08:15", "09:40", "11:05", "13:30", "15:50"],
    "report": ["backlog", "margin", "on-time delivery", "aging", "inventory"],
    "code": ["E1042", "0x80070005", "HTTP 502", "ORA-00060", "TIMEOUT-17"],
    "customer": ["Acme Retail", "Beta Foods", "Costa Logistics", "Delta Hardware", "Echo Pharma"],
}


def ticket_texts(
    rng: np.random.Generator, queue: np.ndarray, queues: list[str]
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Subject, body, category and the resolving queue's reply for each ticket, by its queue."""
    subjects: list[str] = []
    bodies: list[str] = []
    categories: list[str] = []
    replies: list[str] = []
    pick = rng.integers(0, 3, size=queue.size)
    fills = {k: rng.integers(0, len(v), size=queue.size) for k, v in _FILL.items()}
    nums = rng.integers(10, 999, size=(queue.size, 3))
    # Real queues are not always what the text says: a third kind of ticket per queue is vague
    # enough that a quarter of them end up resolved elsewhere (a text of another queue's third kind).
    # Its own generator, so the rest of the demo draws the same numbers as before.
    vague = np.random.default_rng([int(queue.size), int(queue.sum()), 11])
    elsewhere = (pick == 2) & (vague.random(queue.size) < 0.25)
    other = (queue + vague.integers(1, len(queues), size=queue.size)) % len(queues)
    for i, q in enumerate(queue):
        category, subject, body = _TEMPLATES[queues[other[i] if elsewhere[i] else q]][pick[i]]
        values = {k: _FILL[k][fills[k][i]] for k in _FILL}
        values.update(
            qty=str(nums[i, 0]),
            qty2=str(nums[i, 1]),
            invoice=f"INV-{nums[i, 2]:05d}",
            amount=f"{nums[i, 0] * 13.5:.2f}",
        )
        subjects.append(subject.format(**values))
        bodies.append(body.format(**values))
        categories.append(category)
        replies.append(_REPLIES[queues[q]][pick[i]].format(**values))
    return subjects, bodies, categories, replies
