"""The moodlens event contract, defined once in `contract.py`; every other form derives from it."""

# imported first: it points zoneinfo at the pinned tzdata package alone, for every local time in the process
from schemas import time_zones as _time_zones  # noqa: F401
from schemas.contract import CONTRACTS, EventContract, contract_for
from schemas.validation import Problem, ValidationError, parse_event, validate_event

__all__ = ["CONTRACTS", "EventContract", "Problem", "ValidationError", "contract_for", "parse_event",
           "validate_event"]
