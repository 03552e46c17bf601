"""The demo company's KPI definitions and cost settings, written to ``metrics/STREAM.yaml``."""

from __future__ import annotations

__all__ = ["DEMO_METRICS"]

DEMO_METRICS = {
    "order-to-cash": """\
# Northwind Supply: order-to-cash KPIs and what work costs (see the README's KPI section).
costs:
  currency: EUR
  hourly_rate: 38
  hourly_rates: {credit-01: 52, credit-02: 52, sales-lead-01: 60, sales-lead-02: 60}
  activity_costs: {Ship Goods: 18.0, Send Reminder: 2.5}
  handling_minutes: 10
  handling_minutes_by_activity: {Check Credit: 25, Pick Items: 20, Pack Goods: 15, Repack Goods: 20, Quality Check: 8}
  delay_cost_per_case_hour: 0.30
  # waits on the carrier, the customer's payment and the dunning timer: not a queue of ours
  external_waits: [Deliver Goods, Receive Payment, Send Reminder]
kpis:
  - {name: order_to_ship, label: Order to shipment (median), kind: cycle_time, from: Create Order, to: Ship Goods, target: 3d}
  - {name: on_time_delivery, label: Delivered by the promised date, kind: on_time_rate, deadline: promised_delivery, end: Deliver Goods, target: 0.9}
  - {name: first_time_right, label: Orders with no rework, kind: first_time_right, target: 0.85}
  - {name: cost_per_case, label: Handling cost per order, kind: cost_per_case, target: 20}
  - {name: rejection_rate, label: Orders rejected, kind: exception_rate, activities: [Reject Order], target: 0.05}
  - {name: reminder_rate, label: Invoices needing a reminder, kind: exception_rate, activities: [Send Reminder], target: 0.1}
""",
    "ticket-to-resolution": """\
# Northwind Supply: support KPIs.
costs:
  currency: EUR
  hourly_rate: 34
  handling_minutes: 6
  handling_minutes_by_activity: {Start Work: 25, Propose Solution: 15, Request Customer Info: 5}
  # a customer waiting on a ticket: SLA credits and churn, about 1 EUR an hour
  delay_cost_per_case_hour: 1.0
  # the customer's replies and reopenings, and the auto-close timer, are not our queue
  external_waits: [Customer Replied, Reopen Ticket, Close Ticket]
kpis:
  - {name: time_to_resolve, label: Time to resolve (median), kind: cycle_time, from: Create Ticket, to: Resolve Ticket, target: 1d}
  - {name: sla_met, label: Resolved within the priority SLA, kind: on_time_rate, sla_by: priority, sla: {P1: 4h, P2: 8h, P3: 24h, P4: 72h}, end: Resolve Ticket, target: 0.9}
  - {name: reassignment_rate, label: Tickets reassigned, kind: exception_rate, activities: [Reassign Ticket], target: 0.15}
  - {name: reopen_rate, label: Tickets reopened, kind: exception_rate, activities: [Reopen Ticket], target: 0.05}
  - {name: first_time_right, label: Resolved without rework, kind: first_time_right, target: 0.9}
""",
    "procure-to-pay": """\
# Northwind Supply: procure-to-pay KPIs.
costs:
  currency: EUR
  hourly_rate: 42
  handling_minutes: 8
  handling_minutes_by_activity: {Resolve Block: 45, Change Price: 20, Receive Invoice: 6}
  delay_cost_per_case_hour: 0.40
  # supplier delivery and invoicing, and the payment term, run on the supplier's clock
  external_waits: [Receive Goods, Receive Invoice, Pay Invoice]
kpis:
  - {name: requisition_to_pay, label: Requisition to payment (median), kind: cycle_time, from: Create Requisition, to: Pay Invoice, target: 3w}
  - {name: blocked_payments, label: Invoices blocked at the match, kind: exception_rate, activities: [Block Payment], target: 0.03}
  - {name: automation_coverage, label: Steps done by automations, kind: automation_coverage, target: 0.2}
  - {name: cost_per_case, label: Handling cost per purchase, kind: cost_per_case, target: 15}
""",
}
