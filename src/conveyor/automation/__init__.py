"""Governed automation: Detect -> Decide -> Do, with people in control.

An automation (``automations/NAME.yaml``) is started by a trigger (:mod:`.triggers`), asks a
decider (:mod:`.deciders`: the rules decider ships here; trained deciders plug into the same
seam), puts the proposal in a policy tier (act, suggest to a person, a person only), acts through
an outbox (:mod:`.actions`) or puts the item in the review queue, and records everything in a
hash-chained audit log (:mod:`.audit`). :mod:`.monitor` measures whether it works. Everything is
kept in the workspace's state store (:mod:`conveyor.state`).
"""

from conveyor.automation.actions import deliver_due, deliveries, enqueue_actions, retry_delivery
from conveyor.automation.deciders import DECIDERS, Decider, Proposal, RulesDecider, build_decider, register_decider
from conveyor.automation.definitions import (
    Automation,
    AutomationError,
    AutomationNotFoundError,
    list_automations,
    load_automation,
    parse_automation,
    save_automation,
)
from conveyor.automation.engine import (
    QUEUE_ACTIONS,
    TIERS,
    assign_tier,
    check_input,
    check_limits,
    current_status,
    decide,
    record_outcome,
    resolve,
    set_status,
)
from conveyor.automation.monitor import calibrate, monitor, summary
from conveyor.automation.triggers import run_trigger, run_triggers

__all__ = [
    "DECIDERS",
    "QUEUE_ACTIONS",
    "TIERS",
    "Automation",
    "AutomationError",
    "AutomationNotFoundError",
    "Decider",
    "Proposal",
    "RulesDecider",
    "assign_tier",
    "build_decider",
    "calibrate",
    "check_input",
    "check_limits",
    "current_status",
    "decide",
    "deliver_due",
    "deliveries",
    "enqueue_actions",
    "list_automations",
    "load_automation",
    "monitor",
    "parse_automation",
    "record_outcome",
    "register_decider",
    "resolve",
    "retry_delivery",
    "run_trigger",
    "run_triggers",
    "save_automation",
    "set_status",
    "summary",
]
