"""The moodlens event contract, defined once in `contract.py`; every other form derives from it."""

from schemas.contract import CONTRACTS, EventContract, contract_for
from schemas.validation import Problem, ValidationError, parse_event, validate_event

__all__ = ["CONTRACTS", "EventContract", "Problem", "ValidationError", "contract_for", "parse_event",
           "validate_event"]
