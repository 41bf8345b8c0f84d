"""Child process for the crash-safety test: run one ledger call that dies (``os._exit(1)``) just before
statement number ``fault_after``.  Usage: ``crash_child.py URL FAULT_AFTER settle VISIT_JSON MSGID`` or
``crash_child.py URL FAULT_AFTER cancel SETL_ID MSGID``.  Exit 0 means the call completed."""

from __future__ import annotations

import sys

from ledger_support import book_from_fixture, visit_from_json

from yibao.ledger import Ledger


def main(argv: list[str]) -> int:
    url, fault_after, op, arg, msgid = argv
    led = Ledger.open(url)
    led.conn.fault_after = int(fault_after)
    if op == "settle":
        led.settle(book_from_fixture(), visit_from_json(arg), msgid)
    else:
        led.cancel(arg, msgid)
    led.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
