"""Use cases: one function per business act (settle, cancel, reverse, read a person, reconcile …) that
every face — the national transactions, REST, FHIR, the pages, the command line, the demo — calls.

A use case takes its dependencies as arguments (the ledger, the policy book, the in-event audit hook,
the caller and an access log), checks that the caller may act on the data it touches, then calls the
capability cores.  It knows no web framework and writes no SQL."""
